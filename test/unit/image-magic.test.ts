/**
 * A layer blob's first bytes against its media type, both ways (issue 17 item 8a): the `zstd` CLI
 * decodes gzip too, so a gzip blob under a zstd media type used to be read while zstd under gzip
 * was refused.
 */
import test from 'ava';
import { Readable } from 'node:stream';
import type { ZstdBackend } from '../../src/image/decompress.ts';
import { createLayer } from '../../src/image/layer.ts';
import { blobFormat } from '../../src/image/magic.ts';
import type { Compression } from '../../src/image/types.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { buildLayer, compress, sha256 } from '../helpers/oci-builder.ts';

const MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};
const built = await buildLayer([{ name: 'etc/hostname', content: 'cconv\n' }]);
const skippable = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);

/** A layer whose blob is `bytes` (its digest matches) under `declared`'s media type, served `chunk` bytes at a time. */
function layer(bytes: Buffer, declared: Compression, options: { chunk?: number; zstd?: ZstdBackend } = {}) {
  const chunk = options.chunk ?? 1 << 20;
  const pieces = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
  return createLayer({
    index: 2,
    descriptor: { mediaType: MEDIA[declared], digest: sha256(bytes), size: bytes.length },
    diffId: built.diffId,
    openBlob: async () => Readable.from(pieces),
    decode: { zstd: options.zstd ?? 'cli' },
  });
}

async function read(l: ReturnType<typeof layer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await l.openUncompressed()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('blobFormat knows gzip, zstd frames and zstd skippable frames', (t) => {
  t.is(blobFormat(compress(built.tar, 'gzip')), 'gzip');
  t.is(blobFormat(compress(built.tar, 'zstd')), 'zstd');
  t.is(blobFormat(skippable), 'zstd');
  t.is(blobFormat(built.tar), 'none');
  t.is(blobFormat(Buffer.from([0x28, 0xb5, 0x2f])), 'none');
});

for (const zstd of ['cli', 'js'] as ZstdBackend[]) {
  test(`${zstd}: a gzip blob under a zstd media type is E_LAYER_CORRUPT`, async (t) => {
    const gz = compress(built.tar, 'gzip');
    const l = layer(gz, 'zstd', { zstd });
    const err = await t.throwsAsync(read(l), { code: 'E_LAYER_CORRUPT' });
    t.is(err!.message, `layer 2 (${sha256(gz)}): the blob is gzip, but its media type says zstd`);
    await t.throwsAsync(flatten({ layers: [layer(gz, 'zstd', { zstd })] }), { code: 'E_LAYER_CORRUPT', message: /is gzip, but its media type says zstd/ });
  });
}

test('a zstd blob under a gzip media type is E_LAYER_CORRUPT, saying so', async (t) => {
  const zst = compress(built.tar, 'zstd');
  await t.throwsAsync(read(layer(zst, 'gzip')), { code: 'E_LAYER_CORRUPT', message: /^layer 2 \(sha256:[0-9a-f]{64}\): the blob is zstd, but its media type says gzip$/ });
});

test('a compressed blob under the uncompressed media type is E_LAYER_CORRUPT', async (t) => {
  for (const c of ['gzip', 'zstd'] as const) {
    const err = await t.throwsAsync(read(layer(compress(built.tar, c), 'none')), { code: 'E_LAYER_CORRUPT' });
    t.regex(err!.message, new RegExp(`the blob is ${c}, but its media type says an uncompressed tar$`));
  }
});

test('neither magic under gzip or zstd is E_LAYER_CORRUPT naming the first bytes; an empty blob too', async (t) => {
  for (const c of ['gzip', 'zstd'] as const) {
    await t.throwsAsync(read(layer(built.tar, c)), { code: 'E_LAYER_CORRUPT', message: new RegExp(`the blob is not ${c} \\(it starts with ${built.tar.subarray(0, 4).toString('hex')}\\)`) });
    await t.throwsAsync(read(layer(Buffer.alloc(0), c)), { code: 'E_LAYER_CORRUPT', message: new RegExp(`the blob is empty, but its media type says ${c}`) });
  }
});

test('matching blobs read whole, the magic split over 1-byte chunks, a leading skippable frame, an empty tar', async (t) => {
  for (const c of ['none', 'gzip', 'zstd'] as const) {
    t.deepEqual(await read(layer(compress(built.tar, c), c, { chunk: 1 })), built.tar, c);
  }
  t.deepEqual(await read(layer(Buffer.concat([skippable, compress(built.tar, 'zstd')]), 'zstd')), built.tar);
  const empty = createLayer({
    index: 0,
    descriptor: { mediaType: MEDIA.none, digest: sha256(Buffer.alloc(0)), size: 0 },
    diffId: sha256(Buffer.alloc(0)),
    openBlob: async () => Readable.from([]),
  });
  t.is((await read(empty as ReturnType<typeof layer>)).length, 0);
});
