/**
 * The daemon transport with a fake DockerClient: error mapping (404, socket missing/refused,
 * permission), temp-file cleanup when `docker save` fails mid-stream, DOCKER_HOST parsing, and
 * the load tag.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { CconvError } from '../../src/errors.ts';
import { DaemonDestination, DaemonSource, daemonImageName, dockerConnectionFromEnv, loadTag, type DockerClient } from '../../src/transports/daemon/index.ts';
import type { Digest } from '../../src/image/types.ts';

let work: string;
test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-daemonunit-'));
});
test.after.always(async () => {
  await rm(work, { recursive: true, force: true });
});

function fake(inspect: () => Promise<{ Id: string }>, get: () => Promise<NodeJS.ReadableStream> = async () => Readable.from([])): DockerClient {
  return {
    getImage: () => ({ inspect, get }),
    loadImage: async () => Readable.from([]),
  };
}

const ref = { transport: 'docker-daemon' as const, name: 'docker.io/library/app', tag: 'v1' };
const sysErr = (code: string): Error => Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });

test('404 from inspect is E_IMAGE_NOT_FOUND with a docker images/pull hint', async (t) => {
  const src = new DaemonSource(ref, { docker: fake(async () => { throw Object.assign(new Error('no such image'), { statusCode: 404 }); }) });
  const err = await t.throwsAsync<CconvError>(src.open(), { code: 'E_IMAGE_NOT_FOUND' });
  t.regex(err!.hint ?? '', /docker images.*docker pull/);
});

test('socket missing or refused is E_DAEMON (start hint); EACCES is E_DAEMON (permission hint)', async (t) => {
  for (const code of ['ENOENT', 'ECONNREFUSED']) {
    const err = await t.throwsAsync<CconvError>(new DaemonSource(ref, { docker: fake(async () => { throw sysErr(code); }) }).open(), { code: 'E_DAEMON' });
    t.regex(err!.hint ?? '', /start Docker/);
  }
  const err = await t.throwsAsync<CconvError>(new DaemonSource(ref, { docker: fake(async () => { throw sysErr('EACCES'); }) }).open(), { code: 'E_DAEMON' });
  t.regex(err!.message, /permission denied/);
  t.regex(err!.hint ?? '', /docker group/);
});

test('a save stream that breaks is E_DAEMON and leaves no temp files', async (t) => {
  const dir = join(work, 'broken-save');
  await mkdir(dir);
  const broken = new Readable({
    read() {
      this.push(Buffer.alloc(512));
      this.destroy(sysErr('ECONNRESET'));
    },
  });
  const src = new DaemonSource(ref, { docker: fake(async () => ({ Id: 'sha256:x' }), async () => broken) });
  await t.throwsAsync(src.open({ tmpDir: dir }), { code: 'E_DAEMON' });
  t.deepEqual(await readdir(dir), []);
});

test('a save stream that is not a tar fails and leaves no temp files', async (t) => {
  const dir = join(work, 'garbage-save');
  await mkdir(dir);
  const src = new DaemonSource(ref, { docker: fake(async () => ({ Id: 'sha256:x' }), async () => Readable.from([Buffer.from('not a tar at all')])) });
  await t.throwsAsync(src.open({ tmpDir: dir }), { code: 'E_LAYER_CORRUPT' });
  t.deepEqual(await readdir(dir), []);
});

test('docker load answering an error line is E_DAEMON', async (t) => {
  const dir = join(work, 'load-error');
  await mkdir(dir);
  const docker: DockerClient = {
    getImage: () => { throw new Error('unused'); },
    loadImage: async (input) => {
      (input as Readable).resume();
      return Readable.from([Buffer.from('{"errorDetail":{"message":"invalid tar header"},"error":"invalid tar header"}\n')]);
    },
  };
  const dst = new DaemonDestination(ref, { docker, tmpDir: dir });
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const digest = `sha256:${createHash('sha256').update(config).digest('hex')}` as Digest;
  await dst.putBlob({ mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, Readable.from([config]));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, layers: [] }));
  await dst.putManifest(manifest, 'application/vnd.oci.image.manifest.v1+json');
  const err = await t.throwsAsync<CconvError>(dst.commit(), { code: 'E_DAEMON' });
  t.regex(err!.message, /invalid tar header/);
  t.deepEqual(await readdir(dir), []);
});

test('DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async (t) => {
  t.deepEqual(dockerConnectionFromEnv({}), { socketPath: '/var/run/docker.sock' });
  t.deepEqual(dockerConnectionFromEnv({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }), { socketPath: '/run/user/1000/docker.sock' });
  t.deepEqual(dockerConnectionFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }), { host: '10.0.0.5', port: 2375, protocol: 'http' });
  const certs = join(work, 'certs');
  await mkdir(certs);
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(certs, f), f);
  const tls = dockerConnectionFromEnv({ DOCKER_HOST: 'tcp://docker.example:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
  t.is(tls.protocol, 'https');
  t.deepEqual([tls.ca?.toString(), tls.cert?.toString(), tls.key?.toString()], ['ca.pem', 'cert.pem', 'key.pem']);
  t.throws(() => dockerConnectionFromEnv({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(work, 'none') }), { code: 'E_DAEMON' });
  t.throws(() => dockerConnectionFromEnv({ DOCKER_HOST: 'ssh://me@host' }), { code: 'E_USAGE' });
});

test('names: NAME:TAG or NAME@DIGEST for the daemon; familiar NAME:TAG for docker load', (t) => {
  t.is(daemonImageName(ref), 'docker.io/library/app:v1');
  const digest = `sha256:${'a'.repeat(64)}` as Digest;
  t.is(daemonImageName({ transport: 'docker-daemon', name: 'docker.io/library/app', digest }), `docker.io/library/app@${digest}`);
  t.is(loadTag(ref), 'app:v1');
  t.is(loadTag({ transport: 'docker-daemon', name: 'myacr.azurecr.io/team/app', tag: 'sgx' }), 'myacr.azurecr.io/team/app:sgx');
  t.throws(() => new DaemonDestination({ transport: 'docker-daemon', name: 'docker.io/library/app', digest }), { code: 'E_USAGE' });
});
