/**
 * The registry transport against a real registry (Debian docker-registry, TLS + htpasswd), with
 * skopeo as the independent client: push from an OCI layout, pull back, chunked uploads, blob
 * skipping, cross-repo mounts, auth and network failures.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { readAll } from '../../src/image/streams.ts';
import type { Digest } from '../../src/image/types.ts';
import { copyImage } from '../../src/transports/copy.ts';
import { OciLayoutSource } from '../../src/transports/oci-layout.ts';
import { RegistryClient, RegistryDestination, RegistrySource, mountBlob, type RegistryOptions } from '../../src/transports/registry/index.ts';
import type { ImageReference } from '../../src/transports/types.ts';
import { buildLayer, sha256, writeOciLayout, type OciLayoutResult } from '../helpers/oci-builder.ts';
import { freePort, startRegistry, type TestRegistry } from '../helpers/registry.ts';

const exec = promisify(execFile);
let registry: TestRegistry;
let work: string;
let layout: OciLayoutResult;
let layoutDir: string;
let options: RegistryOptions;

test.before(async () => {
  registry = await startRegistry({ auth: 'htpasswd' });
  work = await mkdtemp(join(tmpdir(), 'cconv-regtest-'));
  layoutDir = join(work, 'layout');
  const a = await buildLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/hello', content: 'hello registry\n' }], { compression: 'gzip' });
  // Incompressible content larger than the small test chunk size, stored uncompressed.
  const b = await buildLayer([{ name: 'data.bin', content: randomBytes(6000) }]);
  layout = await writeOciLayout(layoutDir, [{ layers: [a, b], tag: 'v1' }]);
  options = { caFile: registry.caFile, credentials: { username: registry.username, password: registry.password }, retries: 1, retryBaseMs: 5 };
});

test.after.always(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function ref(repository: string, tag?: string): ImageReference & { transport: 'docker' } {
  return tag === undefined ? { transport: 'docker', registry: registry.host, repository } : { transport: 'docker', registry: registry.host, repository, tag };
}

const source = (): OciLayoutSource => new OciLayoutSource({ transport: 'oci', dir: layoutDir, tag: 'v1' });

async function skopeo(args: string[]): Promise<Buffer> {
  const { stdout } = await exec('skopeo', ['--insecure-policy', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

const creds = (): string => `${registry.username}:${registry.password}`;

test.serial('push from an OCI layout: skopeo reads our exact manifest, then copies it back identical', async (t) => {
  const image = layout.images[0]!;
  const result = await copyImage(source(), new RegistryDestination(ref('cconv/app', 'v1'), options));
  t.is(result.manifestDigest, image.manifestDigest);
  t.is(result.copied.length, 3);

  const raw = await skopeo(['inspect', '--raw', '--cert-dir', registry.certDir, '--creds', creds(), `docker://${registry.host}/cconv/app:v1`]);
  t.is(sha256(raw), image.manifestDigest);
  t.deepEqual(raw, image.manifestBytes);

  const back = join(work, 'back');
  await skopeo(['copy', '--preserve-digests', '--dest-oci-accept-uncompressed-layers', '--src-cert-dir', registry.certDir, '--src-creds', creds(), `docker://${registry.host}/cconv/app:v1`, `oci:${back}:v1`]);
  const index = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  t.is(index.manifests[0]!.digest, image.manifestDigest);
  for (const [digest, bytes] of image.blobs) {
    t.deepEqual(await readFile(join(back, 'blobs', 'sha256', digest.slice(7))), bytes);
  }
});

test.serial('a second push skips every blob', async (t) => {
  const result = await copyImage(source(), new RegistryDestination(ref('cconv/app', 'v1'), options));
  t.deepEqual(result.copied, []);
  t.is(result.skipped.length, 3);
});

test.serial('pull what skopeo pushed, verifying every layer', async (t) => {
  const image = layout.images[0]!;
  await skopeo(['copy', '--dest-cert-dir', registry.certDir, '--dest-creds', creds(), `oci:${layoutDir}:v1`, `docker://${registry.host}/other/img:s1`]);
  const opened = await new RegistrySource(ref('other/img', 's1'), options).open();
  try {
    t.is(opened.manifestDigest, image.manifestDigest);
    t.deepEqual(opened.configBytes, image.configBytes);
    for (const layer of opened.layers) {
      const tarBytes = await readAll(await layer.openUncompressed(), 1 << 20, () => new Error('too big'));
      t.is(sha256(tarBytes), layer.diffId);
    }
  } finally {
    await opened.close();
  }
});

test.serial('chunked upload: blobs larger than the chunk size go in PATCH chunks', async (t) => {
  const image = layout.images[0]!;
  const result = await copyImage(source(), new RegistryDestination(ref('chunked/app', 'c1'), { ...options, chunkSize: 1024 }));
  t.is(result.copied.length, 3);
  const opened = await new RegistrySource(ref('chunked/app', 'c1'), options).open();
  try {
    for (const layer of opened.layers) {
      const blob = await readAll(await layer.openCompressed(), 1 << 20, () => new Error('too big'));
      t.deepEqual(blob, image.blobs.get(layer.descriptor.digest));
    }
  } finally {
    await opened.close();
  }
});

test.serial('cross-repository mount: 201 without reading the content; 202 falls back to an upload', async (t) => {
  const image = layout.images[0]!;
  const digest = image.manifest.layers[0]!.digest;
  const client = new RegistryClient(registry.host, options);
  try {
    t.deepEqual(await mountBlob(client, 'mounted/b', digest, 'cconv/app'), { mounted: true });
    t.true(await client.hasBlob('mounted/b', digest));
    const fallback = await mountBlob(client, 'mounted/c', digest, 'no/such-repo');
    t.false(fallback.mounted);
  } finally {
    client.close();
  }
  const dst = new RegistryDestination(ref('mounted/d', 'm1'), { ...options, mountFrom: 'cconv/app' });
  const untouchable = new Readable({ read() { this.destroy(new Error('content read although the blob was mounted')); } });
  await dst.putBlob(image.manifest.layers[1]!, untouchable);
  t.true(await dst.hasBlob(image.manifest.layers[1]!));
});

test.serial('a digest mismatch fails the upload and nothing is committed', async (t) => {
  const dst = new RegistryDestination(ref('bad/blob', 'x'), options);
  const wrong = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256('other') as Digest, size: 5 };
  await t.throwsAsync(dst.putBlob(wrong, Readable.from([Buffer.from('hello')])), { code: 'E_DIGEST_MISMATCH' });
  t.false(await dst.hasBlob(wrong));
  await dst.abort();
});

test('a wrong password gives E_AUTH', async (t) => {
  const bad = { ...options, credentials: { username: registry.username, password: 'wrong' } };
  await t.throwsAsync(new RegistrySource(ref('cconv/app', 'v1'), bad).open(), { code: 'E_AUTH' });
  await t.throwsAsync(new RegistrySource(ref('cconv/app', 'v1'), { ...options, credentials: undefined, env: {}, dockerConfigDir: work }).open(), { code: 'E_AUTH' });
});

test('a missing tag gives E_IMAGE_NOT_FOUND', async (t) => {
  await t.throwsAsync(new RegistrySource(ref('cconv/app', 'nope'), options).open(), { code: 'E_IMAGE_NOT_FOUND' });
});

test('a stopped registry gives E_NETWORK after bounded retries', async (t) => {
  // A port nothing listens on, as after the registry stopped.
  const port = await freePort();
  const src = new RegistrySource({ transport: 'docker', registry: `127.0.0.1:${port}`, repository: 'x/y', tag: 'z' }, { caFile: registry.caFile, retries: 2, retryBaseMs: 5, env: {}, dockerConfigDir: work });
  const err = await t.throwsAsync(src.open(), { code: 'E_NETWORK' });
  t.regex(err!.message, /ECONNREFUSED \(after 3 attempts\)/);
});
