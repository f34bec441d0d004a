/**
 * The bearer challenge flow against a real registry configured for token auth (the in-process
 * token server of test/helpers/registry.ts issues RS256 JWTs, as Docker Hub's and ACR's do).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/image/digest.ts';
import { MediaType } from '../../src/image/types.ts';
import { copyImage } from '../../src/transports/copy.ts';
import { OciLayoutSource } from '../../src/transports/oci-layout.ts';
import { RegistryClient, RegistryDestination, RegistrySource, listReferrers, referrersTag, type RegistryOptions } from '../../src/transports/registry/index.ts';
import { buildLayer, writeOciLayout, type OciLayoutResult } from '../helpers/oci-builder.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

let registry: TestRegistry;
let work: string;
let layout: OciLayoutResult;
let options: RegistryOptions;

test.before(async () => {
  registry = await startRegistry({ auth: 'token' });
  work = await mkdtemp(join(tmpdir(), 'cconv-tokentest-'));
  layout = await writeOciLayout(join(work, 'layout'), [{ layers: [await buildLayer([{ name: 'f', content: 'token flow\n' }], { compression: 'gzip' })], tag: 'v1' }]);
  options = { caFile: registry.caFile, credentials: { username: registry.username, password: registry.password }, retries: 1, retryBaseMs: 5, env: {}, dockerConfigDir: work };
  await copyImage(new OciLayoutSource({ transport: 'oci', dir: join(work, 'layout'), tag: 'v1' }), new RegistryDestination({ transport: 'docker', registry: registry.host, repository: 'team/app', tag: 'v1' }, options));
});

test.after.always(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const ref = (tag: string) => ({ transport: 'docker' as const, registry: registry.host, repository: 'team/app', tag });

test('push and pull through bearer tokens', async (t) => {
  const image = await new RegistrySource(ref('v1'), options).open();
  try {
    t.is(image.manifestDigest, layout.images[0]!.manifestDigest);
    t.deepEqual(image.configBytes, layout.images[0]!.configBytes);
  } finally {
    await image.close();
  }
});

test('anonymous tokens carry no access: E_AUTH; wrong password at the token server: E_AUTH', async (t) => {
  const anonymous = { ...options, credentials: undefined };
  await t.throwsAsync(new RegistrySource(ref('v1'), anonymous).open(), { code: 'E_AUTH' });
  const wrong = { ...options, credentials: { username: registry.username, password: 'nope' } };
  await t.throwsAsync(new RegistrySource(ref('v1'), wrong).open(), { code: 'E_AUTH' });
});

test('referrers: the registry has no API, so the sha256-<hex> tag index is used', async (t) => {
  const client = new RegistryClient(registry.host, options);
  try {
    const subject = layout.images[0]!.manifestDigest;
    t.is((await listReferrers(client, 'team/app', subject)).source, 'none');
    const empty = Buffer.from('{}');
    const dst = new RegistryDestination({ transport: 'docker', registry: registry.host, repository: 'team/app', tag: 'unused' }, options);
    await dst.putBlob({ mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: 2 }, Readable.from([empty]));
    const artifact = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/vnd.cconv.test',
      config: { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: 2 }, layers: [{ mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: 2 }],
      subject: { mediaType: MediaType.OciManifest, digest: subject, size: layout.images[0]!.manifestBytes.length },
    }));
    await client.putManifest('team/app', digestOf(artifact), artifact, MediaType.OciManifest);
    const entry = { mediaType: MediaType.OciManifest, digest: digestOf(artifact), size: artifact.length, artifactType: 'application/vnd.cconv.test' };
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] }));
    await client.putManifest('team/app', referrersTag(subject), index, MediaType.OciIndex);
    const found = await listReferrers(client, 'team/app', subject);
    t.is(found.source, 'tag');
    t.deepEqual(found.index.manifests, [entry]);
  } finally {
    client.close();
  }
});
