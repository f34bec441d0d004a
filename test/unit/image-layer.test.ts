import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLayer } from '../../src/image/layer.ts';
import type { Compression, Digest } from '../../src/image/types.ts';
import { openFileBlob } from '../../src/transports/fs-blob.ts';
import { buildLayer, compress, sha256, type BuiltLayer } from '../helpers/oci-builder.ts';

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// ~512 KiB of varied content so every stage sees many chunks.
const big = Buffer.from(Array.from({ length: 512 * 1024 }, (_, i) => (i * 7919) % 251));
const entries = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/hostname', content: 'cconv\n' },
  { name: 'data.bin', content: big },
];

function layerOf(built: BuiltLayer, overrides: { bytes?: Buffer; digest?: Digest; size?: number; diffId?: Digest; mediaType?: string } = {}) {
  const bytes = overrides.bytes ?? built.bytes;
  return createLayer({
    index: 3,
    descriptor: { mediaType: overrides.mediaType ?? built.mediaType, digest: overrides.digest ?? built.digest, size: overrides.size ?? built.size },
    diffId: overrides.diffId ?? built.diffId,
    openBlob: async () => Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]),
  });
}

for (const compression of ['none', 'gzip', 'zstd'] as Compression[]) {
  test(`${compression} layer: uncompressed stream is the tar, compressed stream the blob`, async (t) => {
    const built = await buildLayer(entries, { compression });
    const layer = layerOf(built);
    t.is(layer.compression, compression);
    t.is(layer.index, 3);
    t.deepEqual(await readStream(await layer.openUncompressed()), built.tar);
    t.deepEqual(await readStream(await layer.openCompressed()), built.bytes);
  });
}

for (const compression of ['gzip', 'zstd'] as Compression[]) {
  test(`truncated ${compression} stream -> E_LAYER_CORRUPT naming the layer`, async (t) => {
    const built = await buildLayer(entries, { compression });
    const cut = built.bytes.subarray(0, Math.floor(built.bytes.length / 2));
    // The stored blob itself is the truncated one (its digest matches), so only decompression can fail.
    const layer = layerOf(built, { bytes: cut, digest: sha256(cut), size: cut.length });
    const err = await t.throwsAsync(async () => readStream(await layer.openUncompressed()), { code: 'E_LAYER_CORRUPT' });
    t.true(err!.message.startsWith(`layer 3 (${sha256(cut)}): corrupt or truncated ${compression} stream`));
  });
}

test('garbage in a gzip layer -> E_LAYER_CORRUPT', async (t) => {
  const junk = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(5000, 0x55)]);
  const built = await buildLayer(entries, { compression: 'gzip' });
  const layer = layerOf(built, { bytes: junk, digest: sha256(junk), size: junk.length });
  await t.throwsAsync(async () => readStream(await layer.openUncompressed()), { code: 'E_LAYER_CORRUPT' });
});

test('corrupt blob -> E_DIGEST_MISMATCH from both streams', async (t) => {
  const built = await buildLayer(entries, { compression: 'none' });
  const bad = Buffer.from(built.bytes);
  bad[bad.length - 2000] = bad[bad.length - 2000]! ^ 1;
  const layer = layerOf(built, { bytes: bad });
  const err = await t.throwsAsync(async () => readStream(await layer.openCompressed()), { code: 'E_DIGEST_MISMATCH' });
  t.true(err!.message.startsWith(`layer 3 (${built.digest}): content has digest ${sha256(bad)}`));
  await t.throwsAsync(async () => readStream(await layer.openUncompressed()), { code: 'E_DIGEST_MISMATCH' });
});

test('openStored hands over the bytes as stored, unverified: the destination that receives them checks', async (t) => {
  const built = await buildLayer(entries, { compression: 'gzip' });
  t.deepEqual(await readStream(await layerOf(built).openStored()), built.bytes);
  const bad = Buffer.from(built.bytes);
  bad[100] = bad[100]! ^ 1;
  t.deepEqual(await readStream(await layerOf(built, { bytes: bad }).openStored()), bad);
});

test('blob of the wrong size -> E_SIZE_MISMATCH', async (t) => {
  const built = await buildLayer(entries, { compression: 'gzip' });
  const layer = layerOf(built, { size: built.size - 1 });
  await t.throwsAsync(async () => readStream(await layer.openCompressed()), { code: 'E_SIZE_MISMATCH' });
});

test('wrong diff_id -> E_DIGEST_MISMATCH naming the diff_id', async (t) => {
  for (const compression of ['none', 'gzip'] as Compression[]) {
    const built = await buildLayer(entries, { compression });
    const layer = layerOf(built, { diffId: sha256('other') });
    const err = await t.throwsAsync(async () => readStream(await layer.openUncompressed()), { code: 'E_DIGEST_MISMATCH' });
    t.regex(err!.message, /^layer 3 \(sha256:[0-9a-f]{64}\) uncompressed content \(diff_id\): content has digest/);
  }
});

test('a re-read without the diff_id hash ({ diffId: false }) still checks the blob digest', async (t) => {
  const built = await buildLayer(entries, { compression: 'gzip' });
  // A wrong diff_id goes unnoticed (the first read is the one that checks it)...
  t.deepEqual(await readStream(await layerOf(built, { diffId: sha256('other') }).openUncompressed({ diffId: false })), built.tar);
  // ...but the bytes are still pinned by the blob digest: valid gzip under another digest fails.
  const err = await t.throwsAsync(async () => readStream(await layerOf(built, { digest: sha256('other') }).openUncompressed({ diffId: false })), { code: 'E_DIGEST_MISMATCH' });
  t.true(err!.message.startsWith(`layer 3 (${sha256('other')}): content has digest ${built.digest}`), err!.message);
});

test('unknown layer media type -> E_MEDIA_TYPE', async (t) => {
  const built = await buildLayer(entries);
  t.throws(() => layerOf(built, { mediaType: 'application/vnd.oci.image.layer.v1.tar+bzip2' }), { code: 'E_MEDIA_TYPE' });
});

test('destroying the stream early closes the blob file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-layer-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const built = await buildLayer(entries, { compression: 'gzip' });
  const file = join(dir, 'blob');
  await writeFile(file, built.bytes);
  let raw: Readable | undefined;
  const descriptor = { mediaType: built.mediaType, digest: built.digest, size: built.size };
  const layer = createLayer({ index: 0, descriptor, diffId: built.diffId, openBlob: async () => (raw = await openFileBlob(file, descriptor)) });
  const out = await layer.openUncompressed();
  // Breaking out of for-await destroys `out`; the pipeline then destroys the file stream (with an
  // abort error nobody else sees) and the file handle is closed.
  const closed = new Promise((resolve) => raw!.on('close', resolve));
  for await (const _chunk of out) break;
  await closed;
  t.true(raw!.destroyed);
});

test('a zstd layer compressed with several frames decodes whole', async (t) => {
  const built = await buildLayer(entries, { compression: 'none' });
  const half = built.tar.length / 2;
  const two = Buffer.concat([compress(built.tar.subarray(0, half), 'zstd'), compress(built.tar.subarray(half), 'zstd')]);
  const layer = layerOf(built, { bytes: two, digest: sha256(two), size: two.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
  t.deepEqual(await readStream(await layer.openUncompressed()), built.tar);
});
