/**
 * `cconv build` / `cconv verify` end to end on OCI layouts (no daemon, no registry): two builds
 * with the same inputs and SOURCE_DATE_EPOCH give the same manifest digest; the build's MRENCLAVE
 * is what `cconv measure` computes for the source; the output config's labels carry the identity;
 * `cconv verify` recomputes it, honours --expect-mrenclave/--expect-mrsigner, and fails naming the
 * file when one byte of a trusted file is flipped in an otherwise valid copy of the image; without
 * --key the build creates the development key in the user's config dir (0600) and warns.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import type { BuildResult } from '../../src/cli/commands/build.ts';
import type { VerifyResult } from '../../src/cli/commands/verify.ts';
import { cli } from '../helpers/cli.ts';
import { readLayoutImage, readTar, rewriteLayoutFile, sha256 } from '../helpers/blob-scan.ts';
import { buildLayer, writeOciLayout } from '../helpers/oci-builder.ts';
import { parseManifestToml } from '../../src/measure/toml.ts';

const EPOCH = '1767225600'; // 2026-01-01T00:00:00Z
let fixtures: FixtureSet;
let work: string;
let key: string;
let source: string;
let runtime: string;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-build-local-');
  key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
  source = `oci:${fixtures.path('hello', 'oci')}`;
  runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** `cconv build SOURCE --runtime-image RUNTIME --output oci:DIR:app --json` (plus `extra`); parses the result. */
async function build(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const run = await cli(['build', source, '--runtime-image', runtime, '--output', `oci:${dir}:app`, '--json', ...extra], { SOURCE_DATE_EPOCH: EPOCH, ...env });
  return { ...run, result: JSON.parse(run.stdout) as BuildResult };
}

let first: Promise<{ dir: string; result: BuildResult }> | undefined;
/** The build every test compares with (made once). */
function firstBuild(): Promise<{ dir: string; result: BuildResult }> {
  first ??= (async () => {
    const dir = join(work, 'out1');
    const r = await build(dir, ['--key', key]);
    if (r.status !== 0) throw new Error(`cconv build failed: ${r.stderr}`);
    return { dir, result: r.result };
  })();
  return first;
}

test('two builds with the same inputs give the same manifest digest; MRENCLAVE is what measure computes; labels carry the identity', async (t) => {
  const { dir, result } = await firstBuild();
  const again = await build(join(work, 'out2'), ['--key', key]);
  t.is(again.status, 0, again.stderr);
  t.regex(result.destination.digest, /^sha256:[0-9a-f]{64}$/);
  t.is(again.result.destination.digest, result.destination.digest);
  t.deepEqual(again.result.identity, result.identity);
  t.deepEqual(again.result.layers, result.layers);

  // The digest reported is the one the layout's index.json points at, and the bytes hash to it.
  const img = await readLayoutImage(dir);
  t.is(img.manifestDigest, result.destination.digest);
  t.is(sha256(await readFile(join(dir, 'blobs', 'sha256', img.manifestDigest.slice(7)))), result.destination.digest);
  t.deepEqual(img.manifest.layers.map((l) => l.digest), result.layers.map((l) => l.digest));

  const measured = await cli(['measure', source, '--runtime-image', runtime, '--json']);
  t.is(measured.status, 0, measured.stderr);
  t.is((JSON.parse(measured.stdout) as { identity: { mrenclave: string } }).identity.mrenclave, result.identity.mrenclave);

  const id = result.identity;
  const labels = img.config.config?.Labels ?? {};
  t.like(labels, {
    'org.cconv.sgx.mrenclave': id.mrenclave,
    'org.cconv.sgx.mrsigner': id.mrsigner,
    'org.cconv.sgx.isvprodid': String(id.isvProdId),
    'org.cconv.sgx.isvsvn': String(id.isvSvn),
    'org.cconv.sgx.debug': String(id.debug),
    'org.cconv.source.digest': result.source.digest,
  });
  // The app's own labels are kept.
  t.is(labels['org.opencontainers.image.title'], 'cconv hello fixture');
});

test('verify passes and prints the build identity; --expect-* with the right values pass, a wrong MRENCLAVE is E_VERIFY_MISMATCH (exit 4)', async (t) => {
  const { dir, result } = await firstBuild();
  const ref = `oci:${dir}:app`;
  const human = await cli(['verify', ref]);
  t.is(human.status, 0, human.stderr);
  t.true(human.stdout.startsWith(`Verified ${ref} (${result.destination.digest})\n`), human.stdout);
  t.true(human.stdout.includes(`MRENCLAVE:  ${result.identity.mrenclave}\n`), human.stdout);
  t.true(human.stdout.includes(`MRSIGNER:   ${result.identity.mrsigner}\n`), human.stdout);

  const json = await cli(['verify', ref, '--json', '--expect-mrenclave', result.identity.mrenclave, '--expect-mrsigner', result.identity.mrsigner.toUpperCase()]);
  t.is(json.status, 0, json.stderr);
  const verified = JSON.parse(json.stdout) as VerifyResult;
  t.is(verified.digest, result.destination.digest);
  t.deepEqual(verified.identity, result.identity);

  const wrong = result.identity.mrenclave.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const bad = await cli(['verify', ref, '--json', '--expect-mrenclave', wrong]);
  t.is(bad.status, 4);
  const err = (JSON.parse(bad.stdout) as { error: { code: string; message: string } }).error;
  t.is(err.code, 'E_VERIFY_MISMATCH');
  t.is(err.message, `MRENCLAVE is ${result.identity.mrenclave}, expected ${wrong}`);
  t.true(bad.stderr.includes(`cconv: error E_VERIFY_MISMATCH: MRENCLAVE is ${result.identity.mrenclave}, expected ${wrong}\n`), bad.stderr);
});

test('one flipped byte of a trusted file in a valid copy of the image: verify fails with E_VERIFY_MISMATCH naming that file', async (t) => {
  const { dir, result } = await firstBuild();
  const tampered = join(work, 'tampered');
  const { layer, before, content } = await rewriteLayoutFile(dir, tampered, 'app/hello', (c) => {
    const b = Buffer.from(c);
    b[10] = b[10]! ^ 0x01;
    return b;
  });
  t.is(result.layers[layer]!.role, 'source');
  t.is(content.length, before.length);
  t.deepEqual([...content.keys()].filter((i) => content[i] !== before[i]), [10]);

  // Still a valid image: it reads and flattens; only its content no longer matches the manifest.
  const inspected = await cli(['inspect', `oci:${tampered}`, '--json']);
  t.is(inspected.status, 0, inspected.stderr);

  const r = await cli(['verify', `oci:${tampered}`, '--json']);
  t.is(r.status, 4, r.stderr);
  const err = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  t.is(err.code, 'E_VERIFY_MISMATCH');
  const manifest = (await readTar((await readLayoutImage(dir)).layers.at(-1)!)).find((m) => m.header.name === 'cconv/app.manifest.sgx')!.content.toString();
  const expected = /uri = "file:\/app\/hello"\nsha256 = "([0-9a-f]{64})"/.exec(manifest)?.[1];
  t.truthy(expected, 'the manifest lists /app/hello as a trusted file');
  t.is(err.message, `trusted file /app/hello has sha256 ${sha256(content).slice(7)}, the manifest expects ${expected}`);
});

test('without --key or CCONV_SIGNING_KEY: the development key is generated in XDG_CONFIG_HOME (0600) with a warning, then reused', async (t) => {
  const home = join(work, 'home');
  const config = join(work, 'xdg');
  const env = { HOME: home, XDG_CONFIG_HOME: config };
  const keyPath = join(config, 'cconv', 'enclave-key.pem');
  const r = await build(join(work, 'devkey1'), [], env);
  t.is(r.status, 0, r.stderr);
  t.is((await stat(keyPath)).mode & 0o777, 0o600);
  const warning = r.stderr.split('\n').find((l) => l.includes('DEVELOPMENT key'));
  t.truthy(warning, r.stderr);
  t.true(warning!.includes(`generated a DEVELOPMENT key at ${keyPath} (MRSIGNER ${r.result.identity.mrsigner})`), warning);
  t.not(r.result.identity.mrsigner, (await firstBuild()).result.identity.mrsigner);

  // The second build finds the key: no new key, no warning, same signer.
  const before = await readFile(keyPath);
  const again = await build(join(work, 'devkey2'), [], env);
  t.is(again.status, 0, again.stderr);
  t.false(again.stderr.includes('DEVELOPMENT key'), again.stderr);
  t.is(again.result.identity.mrsigner, r.result.identity.mrsigner);
  t.deepEqual(await readFile(keyPath), before);
});

test('a corrupt layer read after a lower one was copied early: the build fails, and the output layout is gone', async (t) => {
  // Layer 0 is small and good, so the build copies it to the destination while it reads the
  // larger layer 1 (nothing is to be encrypted), whose blob was altered after the manifest was
  // written: the copy must be removed with everything else.
  const good = await buildLayer([{ name: 'bin/', type: 'directory' }, { name: 'bin/app', content: 'x'.repeat(300_000), mode: 0o755 }], { compression: 'gzip' });
  const bad = await buildLayer([{ name: 'data.bin', content: randomBytes(16 << 20) }], { compression: 'gzip' });
  const src = join(work, 'two-layers');
  await writeOciLayout(src, [{ layers: [good, bad], tag: 'app', config: { config: { Entrypoint: ['/bin/app'] } } }]);
  const badBlob = join(src, 'blobs', 'sha256', bad.digest.slice(7));
  const bytes = await readFile(badBlob);
  bytes[bytes.length - 20]! ^= 1;
  await writeFile(badBlob, bytes);
  const out = join(work, 'out-failed');
  const run = await cli(['build', `oci:${src}:app`, '--runtime-image', runtime, '--output', `oci:${out}:app`, '--key', key], { SOURCE_DATE_EPOCH: EPOCH });
  t.is(run.status, 4, run.stderr);
  // Which check sees the flipped byte first (the blob digest or gzip's CRC, both at the end) may vary.
  t.regex(run.stderr, new RegExp(`error (E_DIGEST_MISMATCH|E_LAYER_CORRUPT): layer 1 \\(${bad.digest}\\)`));
  await t.throwsAsync(stat(out), { code: 'ENOENT' });
});

test('--key-provisioning gramine-secret-prov measures the SECRET_PROVISION_* settings into the manifest, as cconv measure predicts; what it needs is checked', async (t) => {
  const dir = join(work, 'secret-prov');
  const prov = ['--key', key, '--key-provisioning', 'gramine-secret-prov', '--secret-prov-server', 'kbs.example.com:4433'];
  const r = await build(dir, [...prov, '--secret-prov-ca', '/app/greeting.txt']);
  t.is(r.status, 0, r.stderr);
  const manifest = parseManifestToml((await readTar((await readLayoutImage(dir)).layers.at(-1)!)).find((m) => m.header.name === 'cconv/app.manifest.sgx')!.content.toString());
  const env = (manifest.loader as Record<string, Record<string, string>>).env!;
  const lib = '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/libsecret_prov_attest.so';
  t.like(env, {
    LD_PRELOAD: lib,
    SECRET_PROVISION_CONSTRUCTOR: '1',
    SECRET_PROVISION_SET_KEY: 'default',
    SECRET_PROVISION_CA_CHAIN_PATH: '/app/greeting.txt',
    SECRET_PROVISION_SERVERS: 'kbs.example.com:4433',
  });
  t.is((manifest.sgx as Record<string, unknown>).remote_attestation, 'dcap');
  // The library is measured, and the identity differs from the build without provisioning.
  t.true(((manifest.sgx as Record<string, unknown>).trusted_files as Array<{ uri: string }>).some((f) => f.uri === `file:${lib}`));
  t.not(r.result.identity.mrenclave, (await firstBuild()).result.identity.mrenclave);
  // `cconv measure` with the same flags predicts the build's MRENCLAVE.
  const measured = await cli(['measure', source, '--runtime-image', runtime, '--json', ...prov.slice(2), '--secret-prov-ca', '/app/greeting.txt']);
  t.is(measured.status, 0, measured.stderr);
  t.is((JSON.parse(measured.stdout) as { identity: { mrenclave: string } }).identity.mrenclave, r.result.identity.mrenclave);

  const noCa = await build(join(work, 'secret-prov-2'), prov);
  t.is(noCa.status, 2, noCa.stderr);
  t.regex(noCa.stderr, /E_USAGE: --key-provisioning gramine-secret-prov needs --secret-prov-ca PATH/);
  const untrusted = await build(join(work, 'secret-prov-3'), [...prov, '--secret-prov-ca', '/etc/ssl/ca.pem']);
  t.is(untrusted.status, 2, untrusted.stderr);
  t.regex(untrusted.stderr, /E_CONFIG: the secret-provisioning CA chain \/etc\/ssl\/ca.pem is not a trusted file of the image/);
});

test('allowed files over code: a fragment allowing file:/ is E_CONFIG (exit 2); --allow-untrusted-code builds it with a warning, the JSON count and the image label', async (t) => {
  const fragment = join(work, 'allow-root.toml');
  await writeFile(fragment, 'sgx.allowed_files = ["file:/"]\n');
  const refused = await build(join(work, 'untrusted-refused'), ['--key', key, '--manifest', fragment]);
  t.is(refused.status, 2, refused.stderr);
  const error = (refused.result as unknown as { error: { code: string; message: string } }).error;
  t.is(error.code, 'E_CONFIG');
  t.regex(error.message, /^sgx\.allowed_files entry "file:\/" \(from the manifest fragment\) covers the entrypoint \/\S+: Gramine does not check allowed files/);

  const dir = join(work, 'untrusted');
  const r = await build(dir, ['--key', key, '--manifest', fragment, '--allow-untrusted-code']);
  t.is(r.status, 0, r.stderr);
  t.is(r.result.files.untrustedCode, 1);
  t.regex(r.stderr, /untrusted code: sgx\.allowed_files entry "file:\/" \(fragment\) covers the entrypoint \//);
  t.is((await readLayoutImage(dir)).config.config?.Labels?.['org.cconv.sgx.untrusted-code'], 'true');
  // The ordinary build carries no such label and counts nothing.
  const { dir: plain, result } = await firstBuild();
  t.is(result.files.untrustedCode, 0);
  t.is((await readLayoutImage(plain)).config.config?.Labels?.['org.cconv.sgx.untrusted-code'], undefined);
});
