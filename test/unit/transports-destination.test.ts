import test from 'ava';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Image } from '../../src/image/image.ts';
import { openDestination, openSource } from '../../src/transports/index.ts';
import { parseReference } from '../../src/transports/reference.ts';
import type { ImageDestination } from '../../src/transports/types.ts';
import { buildLayer, sha256, writeOciLayout, type BuiltLayer } from '../helpers/oci-builder.ts';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-dest-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** The documented call order: blobs (layers, config), manifest, commit. */
async function copy(image: Image, dest: ImageDestination): Promise<void> {
  for (const layer of image.layers) {
    if (!(await dest.hasBlob(layer.descriptor))) await dest.putBlob(layer.descriptor, await layer.openCompressed());
  }
  await dest.putBlob(image.manifest.config, Readable.from([image.configBytes]));
  await dest.putManifest(image.manifestBytes, image.manifestMediaType);
  await dest.commit();
}

let layers: BuiltLayer[];
let source: string;
test.before(async () => {
  layers = [
    await buildLayer([{ name: 'a', content: 'plain\n' }]),
    await buildLayer([{ name: 'b', content: 'gzip\n' }], { compression: 'gzip' }),
    await buildLayer([{ name: 'c', content: 'zstd\n' }], { compression: 'zstd' }),
  ];
  source = await mkdtemp(join(tmpdir(), 'cconv-dest-src-'));
  await writeOciLayout(source, [{ layers: [layers[0]!, layers[1]!, layers[2]!, layers[0]!] }]);
});
test.after.always(() => rm(source, { recursive: true, force: true }));

test('OCI layout destination: round trip keeps every digest; tag only visible after commit', async (t) => {
  const out = join(await tempDir(t), 'layout');
  const image = await openSource({ transport: 'oci', dir: source }).open();
  const dest = openDestination(parseReference(`oci:${out}:v1`));
  for (const layer of image.layers) {
    if (!(await dest.hasBlob(layer.descriptor))) await dest.putBlob(layer.descriptor, await layer.openCompressed());
  }
  t.true(await dest.hasBlob(image.layers[0]!.descriptor));
  await dest.putBlob(image.manifest.config, Readable.from([image.configBytes]));
  t.is(await dest.putManifest(image.manifestBytes, image.manifestMediaType), image.manifestDigest);
  t.false(await exists(join(out, 'index.json')));
  await dest.commit();
  await dest.abort(); // no-op after commit
  const back = await openSource(parseReference(`oci:${out}:v1`)).open();
  t.is(back.manifestDigest, image.manifestDigest);
  t.deepEqual(back.configBytes, image.configBytes);
  t.deepEqual(back.layers.map((l) => [l.descriptor.digest, l.diffId]), image.layers.map((l) => [l.descriptor.digest, l.diffId]));
  t.deepEqual(JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests[0].annotations, { 'org.opencontainers.image.ref.name': 'v1' });
  t.false((await readdir(join(out, 'blobs', 'sha256'))).some((n) => n.includes('.tmp-')));
});

test('OCI layout destination: retagging replaces the entry, other tags stay', async (t) => {
  const out = join(await tempDir(t), 'layout');
  const image = await openSource({ transport: 'oci', dir: source }).open();
  await copy(image, openDestination({ transport: 'oci', dir: out, tag: 'a' }));
  await copy(image, openDestination({ transport: 'oci', dir: out, tag: 'b' }));
  await copy(image, openDestination({ transport: 'oci', dir: out, tag: 'a' }));
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
  t.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']), ['b', 'a']);
});

test('OCI layout destination: a bad blob is rejected and leaves nothing; abort removes what was added', async (t) => {
  const out = join(await tempDir(t), 'layout');
  const dest = openDestination({ transport: 'oci', dir: out });
  const good = layers[1]!;
  await dest.putBlob({ mediaType: good.mediaType, digest: good.digest, size: good.size }, Readable.from([good.bytes]));
  await t.throwsAsync(dest.putBlob({ mediaType: good.mediaType, digest: sha256('other'), size: good.size }, Readable.from([good.bytes])), { code: 'E_DIGEST_MISMATCH' });
  await t.throwsAsync(dest.putBlob({ mediaType: good.mediaType, digest: good.digest, size: good.size - 1 }, Readable.from([good.bytes])), { code: 'E_SIZE_MISMATCH' });
  t.deepEqual(await readdir(join(out, 'blobs', 'sha256')), [good.digest.slice(7)]);
  await dest.abort();
  t.false(await exists(out), 'the layout dir created by this destination is gone');
  await t.throwsAsync(dest.putBlob({ mediaType: good.mediaType, digest: good.digest, size: good.size }, Readable.from([good.bytes])), { code: 'E_INTERNAL' });
});

test('OCI layout destination: abort keeps blobs that were there before', async (t) => {
  const out = join(await tempDir(t), 'layout');
  const image = await openSource({ transport: 'oci', dir: source }).open();
  await copy(image, openDestination({ transport: 'oci', dir: out, tag: 'keep' }));
  const before = (await readdir(join(out, 'blobs', 'sha256'))).sort();
  const dest = openDestination({ transport: 'oci', dir: out, tag: 'gone' });
  const extra = await buildLayer([{ name: 'extra', content: 'x' }]);
  await dest.putBlob(image.layers[0]!.descriptor, await image.layers[0]!.openCompressed());
  await dest.putBlob({ mediaType: extra.mediaType, digest: extra.digest, size: extra.size }, Readable.from([extra.bytes]));
  await dest.abort();
  t.deepEqual((await readdir(join(out, 'blobs', 'sha256'))).sort(), before);
  t.is((await openSource({ transport: 'oci', dir: out, tag: 'keep' }).open()).manifestDigest, image.manifestDigest);
});

test('OCI layout destination: commit before putManifest is a bug', async (t) => {
  const dest = openDestination({ transport: 'oci', dir: join(await tempDir(t), 'x') });
  await t.throwsAsync(dest.commit(), { code: 'E_INTERNAL' });
});

test('docker-archive destination: round trip through the archive source', async (t) => {
  const work = await tempDir(t);
  const file = join(work, 'out.tar');
  const image = await openSource({ transport: 'oci', dir: source }).open();
  const dest = openDestination(parseReference(`docker-archive:${file}:myapp`));
  await copy(image, dest);
  t.deepEqual((await readdir(work)).sort(), ['out.tar']);
  const back = await openSource(parseReference(`docker-archive:${file}:myapp:latest`)).open({ tmpDir: work });
  t.deepEqual(back.configBytes, image.configBytes);
  t.deepEqual(back.layers.map((l) => [l.descriptor.digest, l.diffId, l.compression]), image.layers.map((l) => [l.descriptor.digest, l.diffId, l.compression]));
  for (const [i, l] of back.layers.entries()) t.is(sha256(await readAll(await l.openUncompressed())), image.layers[i]!.diffId);
  await back.close();
  // Same input, same bytes.
  const file2 = join(work, 'again.tar');
  await copy(image, openDestination(parseReference(`docker-archive:${file2}:myapp`)));
  t.deepEqual(await readFile(file2), await readFile(file));
});

test('docker-archive destination: nothing at FILE before commit; abort and bad blobs remove the temp file', async (t) => {
  const work = await tempDir(t);
  const file = join(work, 'out.tar');
  const image = await openSource({ transport: 'oci', dir: source }).open();
  const dest = openDestination({ transport: 'docker-archive', file });
  await dest.putBlob(image.layers[0]!.descriptor, await image.layers[0]!.openCompressed());
  t.false(await exists(file));
  t.is((await readdir(work)).length, 1);
  await dest.abort();
  t.deepEqual(await readdir(work), []);

  const dest2 = openDestination({ transport: 'docker-archive', file });
  const d = image.layers[1]!.descriptor;
  await t.throwsAsync(dest2.putBlob({ ...d, digest: sha256('x') }, await image.layers[1]!.openCompressed()), { code: 'E_DIGEST_MISMATCH' });
  await t.throwsAsync(dest2.commit(), { code: 'E_INTERNAL' });
  await dest2.abort();
  t.deepEqual(await readdir(work), []);

  const dest3 = openDestination({ transport: 'docker-archive', file });
  await dest3.putBlob(image.manifest.config, Readable.from([image.configBytes]));
  await t.throwsAsync(dest3.putManifest(image.manifestBytes, image.manifestMediaType), { code: 'E_BLOB_MISSING' });
  await dest3.abort();
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
