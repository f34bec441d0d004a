import test from 'ava';
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parsePlatform } from '../../src/image/platform.ts';
import { openSource } from '../../src/transports/index.ts';
import { buildLayer, writeOciLayout, type BuiltLayer } from '../helpers/oci-builder.ts';

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-oci-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let layers: Record<'base' | 'gz' | 'zst' | 'arm', BuiltLayer>;
test.before(async () => {
  layers = {
    base: await buildLayer([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', content: '#!sh\n', mode: 0o755 }]),
    gz: await buildLayer([{ name: 'app/run', content: 'gzip layer\n' }], { compression: 'gzip' }),
    zst: await buildLayer([{ name: 'app/data', content: 'zstd layer\n'.repeat(100) }], { compression: 'zstd' }),
    arm: await buildLayer([{ name: 'arch', content: 'arm64\n' }]),
  };
});

const oci = (dir: string, tag?: string) => openSource(tag === undefined ? { transport: 'oci', dir } : { transport: 'oci', dir, tag });

test('single untagged image with none/gzip/zstd layers', async (t) => {
  const dir = await tempDir(t);
  const { images } = await writeOciLayout(dir, [{ layers: [layers.base, layers.gz, layers.zst] }]);
  const image = await oci(dir).open();
  t.is(image.manifestDigest, images[0]!.manifestDigest);
  t.deepEqual(image.manifestBytes, images[0]!.manifestBytes);
  t.deepEqual(image.configBytes, images[0]!.configBytes);
  t.deepEqual(image.platform, { os: 'linux', architecture: 'amd64' });
  t.deepEqual(image.layers.map((l) => l.compression), ['none', 'gzip', 'zstd']);
  for (const [i, l] of [layers.base, layers.gz, layers.zst].entries()) {
    t.is(image.layers[i]!.diffId, l.diffId);
    t.deepEqual(await readStream(await image.layers[i]!.openUncompressed()), l.tar);
    t.deepEqual(await readStream(await image.layers[i]!.openCompressed()), l.bytes);
  }
  await image.close();
  await image.close();
});

test('tag selection by ref.name, with nested multi-platform index', async (t) => {
  const dir = await tempDir(t);
  const { images } = await writeOciLayout(dir, [
    { layers: [layers.base], tag: 'v1' },
    { tag: 'multi', images: [{ layers: [layers.arm], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { layers: [layers.gz] }] },
  ]);
  t.is((await oci(dir, 'v1').open()).manifestDigest, images[0]!.manifestDigest);
  const amd = await oci(dir, 'multi').open();
  t.is(amd.manifestDigest, images[2]!.manifestDigest);
  const arm = await oci(dir, 'multi').open({ platform: parsePlatform('linux/arm64') });
  t.is(arm.manifestDigest, images[1]!.manifestDigest);
  t.deepEqual(arm.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  await t.throwsAsync(oci(dir, 'multi').open({ platform: parsePlatform('linux/ppc64le') }), {
    code: 'E_PLATFORM_NOT_FOUND',
    message: /available: linux\/arm64\/v8, linux\/amd64/,
  });
  await t.throwsAsync(oci(dir, 'nope').open(), { code: 'E_IMAGE_NOT_FOUND', message: /no image tagged "nope"; tags: multi, v1/ });
  await t.throwsAsync(oci(dir).open(), { code: 'E_USAGE', message: /several images; choose one by tag: multi, v1/ });
});

test('a lone manifest must be for the requested platform', async (t) => {
  const dir = await tempDir(t);
  await writeOciLayout(dir, [{ layers: [layers.arm], platform: { os: 'linux', architecture: 'arm64' } }]);
  await t.throwsAsync(oci(dir).open(), { code: 'E_PLATFORM_NOT_FOUND', message: 'image is for linux/arm64, not linux/amd64' });
  t.is((await oci(dir).open({ platform: parsePlatform('linux/arm64/v8') })).layers.length, 1);
});

test('untagged platform manifests directly in index.json are selected by platform', async (t) => {
  const dir = await tempDir(t);
  const { images } = await writeOciLayout(dir, [
    { layers: [layers.arm], platform: { os: 'linux', architecture: 'arm64' } },
    { layers: [layers.base], platform: { os: 'linux', architecture: 'amd64' } },
  ]);
  t.is((await oci(dir).open()).manifestDigest, images[1]!.manifestDigest);
});

test('missing directory, oci-layout or index.json -> E_IMAGE_NOT_FOUND', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(oci(join(dir, 'absent')).open(), { code: 'E_IMAGE_NOT_FOUND', message: /does not exist/ });
  await writeOciLayout(dir, [{ layers: [layers.base] }]);
  await unlink(join(dir, 'index.json'));
  await t.throwsAsync(oci(dir).open(), { code: 'E_IMAGE_NOT_FOUND', message: /no index\.json/ });
  await unlink(join(dir, 'oci-layout'));
  await t.throwsAsync(oci(dir).open(), { code: 'E_IMAGE_NOT_FOUND', message: /no oci-layout file/ });
});

test('wrong imageLayoutVersion -> E_MANIFEST_INVALID', async (t) => {
  const dir = await tempDir(t);
  await writeOciLayout(dir, [{ layers: [layers.base] }]);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
  await t.throwsAsync(oci(dir).open(), { code: 'E_MANIFEST_INVALID', message: /imageLayoutVersion is "2.0.0"/ });
});

test('missing blobs -> E_BLOB_MISSING naming the digest', async (t) => {
  const dir = await tempDir(t);
  const { images } = await writeOciLayout(dir, [{ layers: [layers.base, layers.gz] }]);
  await unlink(join(dir, 'blobs', 'sha256', layers.gz.digest.slice(7)));
  const image = await oci(dir).open();
  await t.throwsAsync(image.layers[1]!.openUncompressed(), { code: 'E_BLOB_MISSING', message: new RegExp(layers.gz.digest) });
  await unlink(join(dir, 'blobs', 'sha256', images[0]!.configDigest.slice(7)));
  await t.throwsAsync(oci(dir).open(), { code: 'E_BLOB_MISSING', message: new RegExp(images[0]!.configDigest) });
  await unlink(join(dir, 'blobs', 'sha256', images[0]!.manifestDigest.slice(7)));
  await t.throwsAsync(oci(dir).open(), { code: 'E_BLOB_MISSING', message: new RegExp(images[0]!.manifestDigest) });
});

test('corrupt blobs are caught in flight', async (t) => {
  const dir = await tempDir(t);
  const { images } = await writeOciLayout(dir, [{ layers: [layers.base, layers.gz] }]);
  const basePath = join(dir, 'blobs', 'sha256', layers.base.digest.slice(7));
  const bytes = await readFile(basePath);
  bytes[600] = bytes[600]! ^ 0xff;
  await writeFile(basePath, bytes);
  const image = await oci(dir).open();
  await t.throwsAsync(async () => readStream(await image.layers[0]!.openUncompressed()), { code: 'E_DIGEST_MISMATCH', message: /^layer 0 / });
  await truncate(join(dir, 'blobs', 'sha256', layers.gz.digest.slice(7)), 10);
  await t.throwsAsync(async () => readStream(await image.layers[1]!.openCompressed()), { code: 'E_SIZE_MISMATCH' });
  const configPath = join(dir, 'blobs', 'sha256', images[0]!.configDigest.slice(7));
  await writeFile(configPath, (await readFile(configPath, 'utf8')).replace('amd64', 'AMD64'));
  await t.throwsAsync(oci(dir).open(), { code: 'E_DIGEST_MISMATCH', message: /^config / });
});

test('a manifest whose config has another layer count is rejected', async (t) => {
  const dir = await tempDir(t);
  await writeOciLayout(dir, [{ layers: [layers.base, layers.gz], config: { rootfs: { type: 'layers', diff_ids: [layers.base.diffId] } } }]);
  await t.throwsAsync(oci(dir).open(), { code: 'E_MANIFEST_INVALID', message: /has 1 entries but the manifest has 2 layers/ });
});
