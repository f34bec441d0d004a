import test from 'ava';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { openSource } from '../../src/transports/index.ts';
import { parseReference } from '../../src/transports/reference.ts';
import { buildLayer, buildTar, writeDockerArchive, type BuiltLayer } from '../helpers/oci-builder.ts';

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A work dir and an (initially empty) spool dir to check cleanup in. */
async function dirs(t: { teardown(fn: () => Promise<void>): void }): Promise<{ work: string; spool: string }> {
  const work = await mkdtemp(join(tmpdir(), 'cconv-archive-test-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  await mkdir(join(work, 'spool'));
  return { work, spool: join(work, 'spool') };
}

let base: BuiltLayer;
let gz: BuiltLayer;
let top: BuiltLayer;
test.before(async () => {
  base = await buildLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', content: 'ID=test\n' }]);
  gz = await buildLayer([{ name: 'usr/bin/app', content: 'binary\n', mode: 0o755 }], { compression: 'gzip' });
  top = await buildLayer([{ name: 'etc/os-release', content: 'ID=top\n' }]);
});

for (const variant of ['legacy', 'oci'] as const) {
  test(`${variant} archive: reads the image, verifies layers, cleans the spool on close`, async (t) => {
    const { work, spool } = await dirs(t);
    const file = join(work, 'img.tar');
    const { images } = await writeDockerArchive(file, [{ layers: [base, gz, base], tag: 'myapp:1.0' }], { variant });
    const image = await openSource(parseReference(`docker-archive:${file}`)).open({ tmpDir: spool });
    t.is((await readdir(spool)).length, 1);
    t.deepEqual(image.configBytes, images[0]!.configBytes);
    t.deepEqual(image.manifest.config.digest, images[0]!.configDigest);
    if (variant === 'oci') t.is(image.manifestDigest, images[0]!.manifestDigest); // the real manifest, not a synthesised one
    t.deepEqual(image.layers.map((l) => l.compression), ['none', 'gzip', 'none']);
    t.deepEqual(image.layers.map((l) => l.descriptor.digest), [base.digest, gz.digest, base.digest]);
    t.deepEqual(await readStream(await image.layers[1]!.openUncompressed()), gz.tar);
    t.deepEqual(await readStream(await image.layers[2]!.openUncompressed()), base.tar);
    await image.close();
    t.deepEqual(await readdir(spool), []);
  });
}

test('legacy archive: synthesised manifest is deterministic OCI JSON', async (t) => {
  const { work, spool } = await dirs(t);
  const file = join(work, 'img.tar');
  const { images } = await writeDockerArchive(file, [{ layers: [base, gz] }]);
  const a = await openSource({ transport: 'docker-archive', file }).open({ tmpDir: spool });
  const b = await openSource({ transport: 'docker-archive', file }).open({ tmpDir: spool });
  t.deepEqual(a.manifestBytes, b.manifestBytes);
  // Same shape and digests as the builder's own OCI manifest for these blobs.
  t.deepEqual(a.manifestBytes, images[0]!.manifestBytes);
  t.is(a.manifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
  await Promise.all([a.close(), b.close()]);
});

test('tag selection by RepoTags; several images without a tag -> E_USAGE', async (t) => {
  const { work, spool } = await dirs(t);
  const file = join(work, 'two.tar');
  const { images } = await writeDockerArchive(file, [
    { layers: [base], tag: 'first:latest' },
    { layers: [base, top], tag: 'reg.io/second:2' },
  ]);
  const second = await openSource(parseReference(`docker-archive:${file}:reg.io/second:2`)).open({ tmpDir: spool });
  t.deepEqual(second.configBytes, images[1]!.configBytes);
  await second.close();
  const first = await openSource(parseReference(`docker-archive:${file}:docker.io/library/first`)).open({ tmpDir: spool });
  t.deepEqual(first.configBytes, images[0]!.configBytes);
  await first.close();
  await t.throwsAsync(openSource(parseReference(`docker-archive:${file}`)).open({ tmpDir: spool }), {
    code: 'E_USAGE',
    message: /holds 2 images; choose one by tag: first:latest, reg\.io\/second:2/,
  });
  await t.throwsAsync(openSource(parseReference(`docker-archive:${file}:third`)).open({ tmpDir: spool }), {
    code: 'E_IMAGE_NOT_FOUND',
    message: /no image tagged third:latest/,
  });
  t.deepEqual(await readdir(spool), [], 'spool removed after each error');
});

test('layer members that are symlinks or hardlinks are followed; gzipped archives are read', async (t) => {
  const { work, spool } = await dirs(t);
  const { buildImage } = await import('../helpers/oci-builder.ts');
  const img = buildImage({ layers: [base, base] });
  const hex = (d: string): string => d.slice(7);
  const tarBytes = await buildTar([
    { name: 'blobs/sha256/' + hex(base.digest), content: base.bytes },
    { name: 'aaa/layer.tar', type: 'symlink', linkname: `../blobs/sha256/${hex(base.digest)}` },
    { name: 'bbb/layer.tar', type: 'link', linkname: 'aaa/layer.tar' },
    { name: 'config.json', content: img.configBytes },
    { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: null, Layers: ['aaa/layer.tar', './bbb/layer.tar'] }]) },
  ]);
  const file = join(work, 'links.tar.gz');
  await writeFile(file, gzipSync(tarBytes));
  const image = await openSource({ transport: 'docker-archive', file }).open({ tmpDir: spool });
  t.deepEqual(await readStream(await image.layers[1]!.openUncompressed()), base.tar);
  await image.close();
});

test('errors: missing file, not a tar, no manifest.json, missing layer, corrupt layer; spool always removed', async (t) => {
  const { work, spool } = await dirs(t);
  const open = (file: string) => openSource({ transport: 'docker-archive', file }).open({ tmpDir: spool });
  await t.throwsAsync(open(join(work, 'absent.tar')), { code: 'E_IMAGE_NOT_FOUND' });

  const junk = join(work, 'junk.tar');
  await writeFile(junk, Buffer.alloc(2048, 0x41));
  await t.throwsAsync(open(junk), { code: 'E_LAYER_CORRUPT', message: /not a readable tar archive/ });

  const truncated = join(work, 'truncated.tar');
  const full = (await writeDockerArchive(join(work, 'full.tar'), [{ layers: [base] }])).bytes;
  await writeFile(truncated, full.subarray(0, 1500));
  await t.throwsAsync(open(truncated), { code: 'E_LAYER_CORRUPT' });

  const noManifest = join(work, 'nomanifest.tar');
  await writeFile(noManifest, await buildTar([{ name: 'a', content: 'b' }]));
  await t.throwsAsync(open(noManifest), { code: 'E_IMAGE_NOT_FOUND', message: /no manifest\.json/ });

  const missingLayer = join(work, 'missing.tar');
  await writeFile(missingLayer, await buildTar([{ name: 'c.json', content: '{}' }, { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: ['x/layer.tar'] }]) }]));
  await t.throwsAsync(open(missingLayer), { code: 'E_BLOB_MISSING', message: /layer "x\/layer.tar" is missing/ });

  const badManifest = join(work, 'badmanifest.tar');
  await writeFile(badManifest, await buildTar([{ name: 'manifest.json', content: '[{"Config":1}]' }]));
  await t.throwsAsync(open(badManifest), { code: 'E_MANIFEST_INVALID', message: /manifest\.json\[0\]\.Config: must be a string/ });

  // A layer whose bytes differ from its diff_id: found when the layer is read, not at open.
  const { buildImage } = await import('../helpers/oci-builder.ts');
  const img = buildImage({ layers: [top] });
  const corrupt = join(work, 'corrupt.tar');
  await writeFile(corrupt, await buildTar([
    { name: 'c.json', content: img.configBytes },
    { name: 'l/layer.tar', content: base.bytes },
    { name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: ['l/layer.tar'] }]) },
  ]));
  const image = await open(corrupt);
  await t.throwsAsync(async () => readStream(await image.layers[0]!.openUncompressed()), { code: 'E_DIGEST_MISMATCH', message: /diff_id/ });
  await image.close();
  t.deepEqual(await readdir(spool), []);
});
