/**
 * `cconv build` against a real (private) Docker daemon and a real TLS registry with htpasswd auth
 * (issue 6, "Done when"): the app fixtures are `docker load`ed, converted with the default
 * destination (the daemon, tag `latest-sgx`), and `docker run` of the converted image prints
 * exactly what the original prints, for glibc and musl; then the image is pushed, `skopeo
 * inspect` shows the MRENCLAVE label, `cconv verify` on the registry passes, attestations made
 * with --attest-key verify, and --k8s writes a Deployment that pulls the image by digest.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import type { BuildResult } from '../../src/cli/commands/build.ts';
import type { VerifyResult } from '../../src/cli/commands/verify.ts';
import { cli } from '../helpers/cli.ts';
import { dockerRun, sharedDockerd } from '../helpers/dockerd.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const EPOCH = '1767225600';
const dockerd = sharedDockerd(test);
let fixtures: FixtureSet;
let registry: TestRegistry;
let work: string;
let key: string;
let runtime: string;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-build-docker-');
  key = join(work, 'enclave-key.pem');
  runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
  const [gen, reg, d] = await Promise.all([cli(['keygen', key]), startRegistry({ tls: true, auth: 'htpasswd' }), dockerd()]);
  registry = reg;
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
  for (const name of ['app-glibc', 'app-musl']) await d.docker(['load', '-i', fixtures.path(name, 'docker-archive')]);
});
test.after.always(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `cconv ARGS` with the private daemon as DOCKER_HOST and a fixed SOURCE_DATE_EPOCH. */
async function cconv(args: string[], stdin = '') {
  return cli(args, { DOCKER_HOST: (await dockerd()).dockerHost, SOURCE_DATE_EPOCH: EPOCH }, stdin);
}

/** `docker run --rm --network none TAG` on the private daemon. */
async function run(tag: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return dockerRun(await dockerd(), tag);
}

/** The registry flags of every cconv command that talks to the test registry (password on stdin). */
const registryArgs = (): string[] => ['--cert-file', registry.caFile, '--username', registry.username, '--password-stdin'];

for (const flavour of ['glibc', 'musl'] as const) {
  test(`app-${flavour}: built from the daemon into the daemon (tag latest-sgx), the converted image prints what the original prints`, async (t) => {
    const repoTag = fixtures.get(`app-${flavour}`).repoTag;
    t.is(repoTag, `cconv-fixture/app-${flavour}:latest`);
    const built = await cconv(['build', repoTag, '--runtime-image', runtime, '--key', key, '--json']);
    t.is(built.status, 0, built.stderr);
    const result = JSON.parse(built.stdout) as BuildResult;
    t.is(result.destination.reference, `docker-daemon:docker.io/cconv-fixture/app-${flavour}:latest-sgx`);

    const d = await dockerd();
    const config = JSON.parse((await d.docker(['image', 'inspect', '--format', '{{json .Config}}', `cconv-fixture/app-${flavour}:latest-sgx`])).toString()) as { Entrypoint: string[]; Labels: Record<string, string> };
    t.is(config.Labels['org.cconv.sgx.mrenclave'], result.identity.mrenclave);
    // The app starts through Gramine's loader (the stand-in checks the enclave files first).
    t.deepEqual(config.Entrypoint, ['/usr/lib/x86_64-linux-gnu/gramine/sgx/loader', '/usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so', 'init', '/cconv/app']);

    const original = await run(repoTag);
    t.is(original.status, 0, original.stderr);
    t.true(original.stdout.startsWith(`libc: ${flavour}\nargc: 3\n`), original.stdout);
    t.deepEqual(await run(`cconv-fixture/app-${flavour}:latest-sgx`), original);
  });
}

test('pushed to a TLS registry with credentials: skopeo sees the MRENCLAVE label, verify passes, attestations verify, --k8s pins the digest', async (t) => {
  const attestKey = join(work, 'attest.pem');
  const kg = await cli(['attest', 'keygen', attestKey]);
  t.is(kg.status, 0, kg.stderr);
  const k8s = join(work, 'deployment.yaml');
  const dest = `${registry.host}/app:1`;
  const built = await cconv(['build', 'cconv-fixture/app-glibc:latest', '--runtime-image', runtime, '--key', key, '--push', dest, ...registryArgs(),
    '--attest-key', attestKey, '--k8s', k8s, '--json'], `${registry.password}\n`);
  t.is(built.status, 0, built.stderr);
  const result = JSON.parse(built.stdout) as BuildResult;
  t.is(result.destination.reference, `docker://${dest}`);
  t.true((result.attestations?.length ?? 0) > 0);

  const inspected = await new Promise<string>((resolve, reject) =>
    execFile('skopeo', ['inspect', '--cert-dir', registry.certDir, '--creds', `${registry.username}:${registry.password}`, `docker://${dest}`], (err, stdout, stderr) =>
      err ? reject(new Error(`skopeo inspect failed: ${stderr}`)) : resolve(stdout)));
  const sk = JSON.parse(inspected) as { Digest: string; Labels: Record<string, string> };
  t.is(sk.Digest, result.destination.digest);
  t.is(sk.Labels['org.cconv.sgx.mrenclave'], result.identity.mrenclave);
  t.is(sk.Labels['org.cconv.sgx.mrsigner'], result.identity.mrsigner);

  const verified = await cconv(['verify', `docker://${dest}`, ...registryArgs(), '--expect-mrenclave', result.identity.mrenclave, '--json'], registry.password);
  t.is(verified.status, 0, verified.stderr);
  const v = JSON.parse(verified.stdout) as VerifyResult;
  t.is(v.digest, result.destination.digest);
  t.deepEqual(v.identity, result.identity);
  t.is(v.attestations, undefined);

  const attested = await cconv(['verify', `docker://${dest}`, ...registryArgs(), '--attest-key', `${attestKey}.pub`, '--json'], registry.password);
  t.is(attested.status, 0, attested.stderr);
  t.is((JSON.parse(attested.stdout) as VerifyResult).attestations?.verified, result.attestations!.length);

  const docs = parseAllDocuments(await readFile(k8s, 'utf8')).map((d) => d.toJS() as { kind: string; spec?: { template?: { spec?: { containers?: Array<{ image: string }> } } } });
  const deployment = docs.find((d) => d.kind === 'Deployment');
  t.truthy(deployment);
  t.deepEqual(deployment!.spec?.template?.spec?.containers?.map((c) => c.image), [`${registry.host}/app@${result.destination.digest}`]);
});

test('an image pushed without --attest-key: verify passes, verify --attest-key fails with E_ATTESTATION', async (t) => {
  const dest = `${registry.host}/plain:1`;
  const attestKey = join(work, 'attest-plain.pem');
  t.is((await cli(['attest', 'keygen', attestKey])).status, 0);
  const built = await cconv(['build', 'cconv-fixture/app-musl:latest', '--runtime-image', runtime, '--key', key, '--push', dest, ...registryArgs(), '--json'], registry.password);
  t.is(built.status, 0, built.stderr);
  t.is((await cconv(['verify', `docker://${dest}`, ...registryArgs()], registry.password)).status, 0);
  const r = await cconv(['verify', `docker://${dest}`, ...registryArgs(), '--attest-key', `${attestKey}.pub`, '--json'], registry.password);
  t.is(r.status, 6, r.stderr);
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'E_ATTESTATION');
});
