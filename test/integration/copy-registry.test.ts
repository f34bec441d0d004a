/**
 * `cconv copy` against real registries (Debian docker-registry), with skopeo as the independent
 * client: a plain-HTTP registry (push from an OCI layout, skopeo reads it back, cconv copies it back
 * with identical digests; --platform picks one image of an index) and a TLS + htpasswd registry
 * (an image skopeo pushed is read by `cconv inspect`; a copy between repositories keeps the digest).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import type { InspectResult } from '../../src/inspect.ts';
import type { CopyCommandResult } from '../../src/cli/commands/copy.ts';
import { cli } from '../helpers/cli.ts';
import { sha256 } from '../helpers/oci-builder.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const exec = promisify(execFile);
let fixtures: FixtureSet;
let plain: TestRegistry;
let secure: TestRegistry;
let work: string;
/** No Docker config: anonymous unless a test passes credentials. */
let env: NodeJS.ProcessEnv;

test.before(async () => {
  [fixtures, plain, secure] = await Promise.all([ensureFixtures(), startRegistry({ tls: false, auth: 'none' }), startRegistry({ tls: true, auth: 'htpasswd' })]);
  work = await mkdtemp(join(tmpdir(), 'cconv-copyreg-'));
  env = { DOCKER_CONFIG: work };
});

test.after.always(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

async function skopeo(args: string[]): Promise<Buffer> {
  const { stdout } = await exec('skopeo', ['--insecure-policy', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

async function copy(args: string[], stdin = ''): Promise<CopyCommandResult> {
  const run = await cli(['copy', ...args, '--json'], env, stdin);
  if (run.status !== 0) throw new Error(`cconv copy ${args.join(' ')}: status ${run.status}\n${run.stderr}`);
  return JSON.parse(run.stdout) as CopyCommandResult;
}

/** The bytes of blob `digest` in an OCI layout. */
async function layoutBlob(dir: string, digest: string): Promise<Buffer> {
  return readFile(join(dir, 'blobs', 'sha256', digest.slice(7)));
}

test('plain HTTP: oci -> registry -> skopeo reads it; cconv copies it back with identical digests', async (t) => {
  const hello = fixtures.get('hello');
  const src = fixtures.path('hello', 'oci');
  const target = `docker://${plain.host}/x:1`;
  const pushed = await copy([`oci:${src}:latest`, target, '--plain-http']);
  t.deepEqual(pushed, { source: `oci:${src}:latest`, destination: target, digest: hello.ociDigest, copied: 3, skipped: 0 });

  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', target]);
  t.is(sha256(raw), hello.ociDigest);
  t.deepEqual(raw, await layoutBlob(src, hello.ociDigest));
  const manifest = JSON.parse(raw.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const viaSkopeo = join(work, 'skopeo-back');
  await skopeo(['copy', '--preserve-digests', '--src-tls-verify=false', target, `oci:${viaSkopeo}:back`]);
  const viaCconv = join(work, 'cconv-back');
  const back = await copy([target, `oci:${viaCconv}:back`, '--plain-http']);
  t.is(back.digest, hello.ociDigest);
  t.is(back.copied, 3);
  for (const dir of [viaSkopeo, viaCconv]) {
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    t.deepEqual(index.manifests.map((m) => m.digest), [hello.ociDigest], dir);
    for (const digest of [hello.ociDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
      t.deepEqual(await layoutBlob(dir, digest), await layoutBlob(src, digest), `${dir} ${digest}`);
    }
  }
  // A second push finds every blob there already.
  t.deepEqual(await copy([`oci:${src}:latest`, target, '--plain-http']), { ...pushed, copied: 0, skipped: 3 });
});

test('--platform copies the matching image of an index, byte for byte', async (t) => {
  const src = fixtures.path('multiarch', 'oci');
  const index = JSON.parse((await layoutBlob(src, fixtures.get('multiarch').ociDigest)).toString()) as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
  const arm = index.manifests.find((m) => m.platform.architecture === 'arm64')!;
  const target = `docker://${plain.host}/multi/arm:1`;
  const result = await copy([`oci:${src}:latest`, target, '--plain-http', '--platform', 'linux/arm64/v8']);
  t.is(result.digest, arm.digest);
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', target]);
  t.deepEqual(raw, await layoutBlob(src, arm.digest));
});

test('TLS + htpasswd: an image skopeo pushed is read by cconv inspect, and copied to another repository', async (t) => {
  const hello = fixtures.get('hello');
  const src = fixtures.path('hello', 'oci');
  const creds = `${secure.username}:${secure.password}`;
  await skopeo(['copy', '--dest-cert-dir', secure.certDir, '--dest-creds', creds, `oci:${src}:latest`, `docker://${secure.host}/sk/hello:1`]);
  const auth = ['--cert-file', secure.caFile, '--username', secure.username, '--password-stdin'];
  const run = await cli(['inspect', `docker://${secure.host}/sk/hello:1`, '--json', ...auth], env, secure.password);
  t.is(run.status, 0, run.stderr);
  const inspected = JSON.parse(run.stdout) as InspectResult;
  const local = await cli(['inspect', `oci:${src}:latest`, '--json'], env);
  t.is(local.status, 0, local.stderr);
  const expected = JSON.parse(local.stdout) as InspectResult;
  t.is(inspected.manifestDigest, hello.ociDigest);
  t.deepEqual(inspected.layers, expected.layers);
  t.deepEqual(inspected.rootfs, expected.rootfs);

  const mounted = await copy([`docker://${secure.host}/sk/hello:1`, `docker://${secure.host}/mounted/hello:2`, ...auth], secure.password);
  t.is(mounted.digest, hello.ociDigest);
  const raw = await skopeo(['inspect', '--raw', '--cert-dir', secure.certDir, '--creds', creds, `docker://${secure.host}/mounted/hello:2`]);
  t.is(sha256(raw), hello.ociDigest);
  // Without credentials the registry refuses: E_AUTH, exit status 5.
  const anonymous = await cli(['copy', `oci:${src}:latest`, `docker://${secure.host}/anon/x:1`, '--cert-file', secure.caFile], env);
  t.is(anonymous.status, 5);
  t.regex(anonymous.stderr, /E_AUTH/);
});
