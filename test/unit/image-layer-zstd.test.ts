import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ZstdBackend } from '../../src/image/decompress.ts';
import { createLayer } from '../../src/image/layer.ts';
import type { Descriptor, Digest } from '../../src/image/types.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { openFileBlob } from '../../src/transports/fs-blob.ts';
import { buildTar, sha256, xorshiftBytes } from '../helpers/oci-builder.ts';

// A multi-MB layer: a 4 MB pseudo-random file (xorshift32, fixed seed) plus small files. Before
// the fix, reading such a zstd layer stopped after 131072 bytes and the process exited with 13.
const big = xorshiftBytes(4_000_000, 0x2545f491, 0x7f);
const small = Array.from({ length: 50 }, (_, i) => ({ name: `app/f${i}.txt`, content: `file ${i}\n`.repeat(i + 1) }));
const tar = await buildTar([{ name: 'app/', type: 'directory' }, { name: 'app/big.bin', content: big }, ...small]);
const zst = execFileSync('zstd', ['-q', '-3', '-c'], { input: tar, maxBuffer: 1 << 28 });

async function layerFile(t: { teardown: (fn: () => Promise<void>) => void }, bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-zstd-layer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'blob');
  await writeFile(file, bytes);
  return file;
}

function zstdLayer(file: string, bytes: Buffer, zstd: ZstdBackend, diffId: Digest = sha256(tar)) {
  const descriptor: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(bytes), size: bytes.length };
  return createLayer({ index: 1, descriptor, diffId, openBlob: () => openFileBlob(file, descriptor), decode: { zstd } });
}

async function forAwait(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

for (const backend of ['js', 'cli'] as ZstdBackend[]) {
  test(`${backend}: a multi-MB zstd layer reads whole through openUncompressed with for-await`, async (t) => {
    t.true(tar.length > 4_000_000 && zst.length > 3_000_000, `tar ${tar.length}, zstd ${zst.length}`);
    const layer = zstdLayer(await layerFile(t, zst), zst, backend);
    const out = await forAwait(await layer.openUncompressed());
    t.is(out.length, tar.length);
    t.true(out.equals(tar));
  });

  test(`${backend}: flatten reads a multi-MB zstd layer and hashes its files`, async (t) => {
    const layer = zstdLayer(await layerFile(t, zst), zst, backend);
    const fs = await flatten({ layers: [layer] });
    t.is(fs.totals.files, 51);
    t.is(fs.get('app/big.bin')?.size, big.length);
    t.is(`sha256:${fs.get('app/big.bin')?.sha256}`, sha256(big));
    t.is(`sha256:${fs.get('app/f49.txt')?.sha256}`, sha256(small[49]!.content));
  });

  test(`${backend}: a truncated zstd layer is E_LAYER_CORRUPT naming the layer, also from flatten`, async (t) => {
    const cut = zst.subarray(0, zst.length - 100_000);
    const file = await layerFile(t, cut);
    const err = await t.throwsAsync(async () => forAwait(await zstdLayer(file, cut, backend).openUncompressed()), { code: 'E_LAYER_CORRUPT' });
    t.true(err!.message.startsWith(`layer 1 (${sha256(cut)}): corrupt or truncated zstd stream: `), err!.message);
    await t.throwsAsync(flatten({ layers: [zstdLayer(file, cut, backend)] }), { code: 'E_LAYER_CORRUPT' });
  });

  test(`${backend}: a wrong diff_id is still E_DIGEST_MISMATCH`, async (t) => {
    const layer = zstdLayer(await layerFile(t, zst), zst, backend, sha256('something else'));
    const err = await t.throwsAsync(async () => forAwait(await layer.openUncompressed()), { code: 'E_DIGEST_MISMATCH' });
    t.is(err!.message, `layer 1 (${sha256(zst)}) uncompressed content (diff_id): content has digest ${sha256(tar)}, expected ${sha256('something else')}`);
  });
}

test('stopping early closes the blob file and the decoder', async (t) => {
  const file = await layerFile(t, zst);
  const descriptor: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(zst), size: zst.length };
  let raw: Readable | undefined;
  const layer = createLayer({ index: 0, descriptor, diffId: sha256(tar), openBlob: async () => (raw = await openFileBlob(file, descriptor)), decode: { zstd: 'cli' } });
  const out = await layer.openUncompressed();
  const closed = new Promise((resolve) => raw!.on('close', resolve));
  for await (const _chunk of out) break;
  await closed;
  t.true(raw!.destroyed);
  t.true(out.destroyed);
});

test('destroying a layer stream whose source stalls destroys the source at once', async (t) => {
  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    const stalled = new Readable({ read() {} }); // never delivers a byte, like a hung socket
    const descriptor: Descriptor = { mediaType: `application/vnd.oci.image.layer.v1.tar${compression === 'none' ? '' : `+${compression}`}`, digest: sha256(tar), size: tar.length };
    const layer = createLayer({ index: 0, descriptor, diffId: sha256(tar), openBlob: async () => stalled });
    const out = await layer.openUncompressed();
    const reading = (async () => {
      for await (const _chunk of out) void _chunk;
    })();
    await new Promise((r) => setImmediate(r));
    out.destroy();
    await new Promise((r) => out.once('close', r));
    t.true(stalled.destroyed, compression);
    await t.throwsAsync(reading, { code: 'ERR_STREAM_PREMATURE_CLOSE' });
  }
});
