/**
 * `cconv build --encrypt` end to end (issue 5, "Done when"): the source is the app-glibc fixture
 * plus one layer that adds a 48 KiB data file and shadows /app/data/message.txt, so an encrypted
 * path has two versions in two layers. No blob of the output (stored or decompressed) holds any
 * 32-byte window of any version's plaintext, while the same scan finds them all in the source; the
 * manifest mounts the paths as encrypted; `cconv keys open` with the broker key recovers the data
 * key and `cconv pf decrypt` of the ciphertexts in the image gives the plaintext back, another
 * broker key fails; the release policies carry the build's MRENCLAVE; a second build with a fresh
 * key has the same MRENCLAVE and the same digest for every layer that holds no ciphertext.
 * Issue 17: versions of encrypted paths that later layers white out or replace by a directory are
 * in no output blob either, and the build counts them (`files.droppedShadowed`).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import { ensureFixtures } from '../../fixtures/build.ts';
import type { BuildResult } from '../../src/cli/commands/build.ts';
import { cli } from '../helpers/cli.ts';
import { findWindows, layoutBlobs, readLayoutImage, readTar } from '../helpers/blob-scan.ts';
import { buildLayer, writeOciLayout, type BuiltLayer } from '../helpers/oci-builder.ts';

const EPOCH = '1767225600';
const DATA_DIR = 'app/data/';
let work: string;
let sourceDir: string;
let runtime: string;
let key: string;
/** Every version of every file under /app/data/ in any source layer: [path, layer, content]. */
let versions: Array<{ path: string; layer: number; content: Buffer }>;

/** 48 KiB of deterministic, incompressible bytes (a sha256 counter stream). */
function modelBytes(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 1536; i++) parts.push(createHash('sha256').update(`cconv build-encrypt model ${i}`).digest());
  return Buffer.concat(parts);
}

/** The image of an OCI layout and its gzip layers as they are, to build another image on. */
async function layoutLayers(dir: string) {
  const app = await readLayoutImage(dir);
  const layers: BuiltLayer[] = [];
  for (const [i, l] of app.manifest.layers.entries()) {
    const bytes = await readFile(join(dir, 'blobs', 'sha256', l.digest.slice(7)));
    layers.push({ bytes, tar: gunzipSync(bytes), digest: l.digest as BuiltLayer['digest'], diffId: app.config.rootfs.diff_ids[i] as BuiltLayer['diffId'], size: l.size, compression: 'gzip', mediaType: l.mediaType });
  }
  return { app, layers };
}

test.before(async () => {
  const fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-build-encrypt-');
  runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
  key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
  for (const name of ['broker', 'other-broker']) {
    const r = await cli(['keys', 'gen-broker', '--out', join(work, name)]);
    if (r.status !== 0) throw new Error(`cconv keys gen-broker failed: ${r.stderr}`);
  }

  // The source: app-glibc's layers as they are, plus a layer with a model and a new message.txt.
  const { app, layers } = await layoutLayers(fixtures.path('app-glibc', 'oci'));
  const owner = { uid: 1000, gid: 1000 };
  layers.push(await buildLayer([
    { name: 'app/', type: 'directory', ...owner },
    { name: 'app/data/', type: 'directory', ...owner },
    { name: 'app/data/message.txt', content: 'the upper layer replaces the message of the glibc fixture\n', ...owner },
    { name: 'app/data/model.bin', content: modelBytes(), ...owner },
  ], { compression: 'gzip' }));
  sourceDir = join(work, 'source');
  await writeOciLayout(sourceDir, [{ layers, config: { config: app.config.config }, tag: 'latest' }]);

  versions = [];
  for (const [layer, l] of layers.entries()) {
    for (const m of await readTar(l.tar)) {
      if (m.header.type === 'file' && m.header.name.startsWith(DATA_DIR)) versions.push({ path: `/${m.header.name}`, layer, content: m.content });
    }
  }
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Builds the source with /app/data/** encrypted and the key sealed to `broker`; `name` names the outputs. */
async function build(name: string, broker = 'broker') {
  const out = join(work, name);
  const run = await cli([
    'build', `oci:${sourceDir}`, '--runtime-image', runtime, '--key', key, '--output', `oci:${out}:app`,
    '--encrypt', '/app/data/**', '--broker-key', join(work, broker, 'broker.pub'), '--envelope-out', `${out}-envelope.json`,
    '--policy-out', `${out}-policies`, '--maa-endpoint', 'https://x.attest.azure.net', '--json',
  ], { SOURCE_DATE_EPOCH: EPOCH });
  if (run.status !== 0) throw new Error(`cconv build failed: ${run.stderr}`);
  return { out, envelope: `${out}-envelope.json`, policies: `${out}-policies`, result: JSON.parse(run.stdout) as BuildResult };
}

let first: ReturnType<typeof build> | undefined;
const firstBuild = (): ReturnType<typeof build> => (first ??= build('first'));

/** The members of the output's cconv layer (the top one). */
async function cconvLayer(out: string) {
  const img = await readLayoutImage(out);
  return readTar(img.layers.at(-1)!);
}

test('the source holds every plaintext version; no blob of the output holds any 32-byte window of any of them', async (t) => {
  t.deepEqual(versions.map((v) => [v.path, v.layer]), [['/app/data/message.txt', 1], ['/app/data/message.txt', 2], ['/app/data/model.bin', 2]]);
  const sourceBlobs = await layoutBlobs(sourceDir);
  for (const v of versions) {
    const hits = findWindows(sourceBlobs, v.content);
    // Found in the layer's decompressed tar: the scan can fail.
    t.true(hits.some((h) => h.form === 'decompressed'), `${v.path} (layer ${v.layer}) not found in the source`);
  }
  const { out, result } = await firstBuild();
  t.is(result.files.encrypted, 2);
  t.is(result.encryptedBytes, versions.filter((v) => v.layer === 2).reduce((n, v) => n + v.content.length, 0));
  const outBlobs = await layoutBlobs(out);
  t.is(outBlobs.length, result.layers.length + 2); // layers, config, manifest
  for (const v of versions) t.deepEqual(findWindows(outBlobs, v.content), [], `${v.path} (layer ${v.layer}) leaked`);
});

test('the manifest mounts the encrypted paths; the broker key opens the envelope and pf decrypt gives the plaintext back; another broker key fails', async (t) => {
  const { out, envelope, result } = await firstBuild();
  const members = await cconvLayer(out);
  const manifest = parseToml(members.find((m) => m.header.name === 'cconv/app.manifest.sgx')!.content.toString()) as {
    fs: { mounts: Array<Record<string, string>> };
    sgx: { trusted_files: Array<{ uri: string }> };
  };
  const finals = versions.filter((v) => v.layer === 2);
  t.deepEqual(
    manifest.fs.mounts.filter((m) => m.type === 'encrypted'),
    finals.map((v) => ({ type: 'encrypted', path: v.path, uri: `file:${v.path}`, key_name: 'default' })),
  );
  t.deepEqual(manifest.sgx.trusted_files.filter((f) => f.uri.includes('/app/data/')), []);

  const keyFile = join(work, 'data-key');
  const opened = await cli(['keys', 'open', '--envelope', envelope, '--broker-key', join(work, 'broker', 'broker.key'), '--out', keyFile]);
  t.is(opened.status, 0, opened.stderr);
  t.is((await readFile(keyFile)).length, 16);
  t.is((await stat(keyFile)).mode & 0o777, 0o600);
  const env = JSON.parse(await readFile(envelope, 'utf8')) as { identity: { mrenclave: string }; imageDigest: string };
  t.is(env.identity.mrenclave, result.identity.mrenclave);
  t.is(env.imageDigest, result.destination.digest);

  for (const v of finals) {
    const cipher = members.find((m) => `/${m.header.name}` === v.path);
    t.truthy(cipher, `${v.path} is not in the cconv layer`);
    const inFile = join(work, `cipher-${v.path.replaceAll('/', '_')}`);
    const outFile = `${inFile}.plain`;
    await writeFile(inFile, cipher!.content);
    const dec = await cli(['pf', 'decrypt', '--key-file', keyFile, '--path', v.path, inFile, outFile]);
    t.is(dec.status, 0, dec.stderr);
    t.deepEqual(await readFile(outFile), v.content);
  }

  const other = await cli(['keys', 'open', '--envelope', envelope, '--broker-key', join(work, 'other-broker', 'broker.key'), '--out', join(work, 'wrong-key'), '--json']);
  t.is(other.status, 6);
  t.is((JSON.parse(other.stdout) as { error: { code: string } }).error.code, 'E_KEY_INVALID');
  await t.throwsAsync(stat(join(work, 'wrong-key')), { code: 'ENOENT' });
});

test('the release policies carry the build identity', async (t) => {
  const { policies, result } = await firstBuild();
  const id = result.identity;
  t.deepEqual(result.releasePolicies, ['azure-skr-policy.json', 'marblerun-package.json', 'gramine-ra-tls-verifier.env'].map((f) => join(policies, f)));
  const skr = JSON.parse(await readFile(join(policies, 'azure-skr-policy.json'), 'utf8')) as { anyOf: Array<{ authority: string; allOf: Array<{ claim: string; equals: unknown }> }> };
  t.is(skr.anyOf[0]!.authority, 'https://x.attest.azure.net');
  t.deepEqual(skr.anyOf[0]!.allOf.find((c) => c.claim === 'x-ms-sgx-mrenclave')?.equals, id.mrenclave);
  t.deepEqual(skr.anyOf[0]!.allOf.find((c) => c.claim === 'x-ms-sgx-is-debuggable')?.equals, id.debug);
  const marblerun = JSON.parse(await readFile(join(policies, 'marblerun-package.json'), 'utf8')) as { Packages: Record<string, { UniqueID: string; Debug: boolean }> };
  t.deepEqual(Object.values(marblerun.Packages).map((p) => [p.UniqueID, p.Debug]), [[id.mrenclave, id.debug]]);
  const envFile = await readFile(join(policies, 'gramine-ra-tls-verifier.env'), 'utf8');
  t.true(envFile.split('\n').includes(`RA_TLS_MRENCLAVE=${id.mrenclave}`), envFile);
  t.true(envFile.split('\n').includes(`RA_TLS_MRSIGNER=${id.mrsigner}`), envFile);
});

test('a second build with a fresh data key: same MRENCLAVE, same digest for every layer without ciphertext, another cconv layer', async (t) => {
  const [a, b] = [await firstBuild(), await build('second')];
  t.deepEqual(b.result.identity, a.result.identity);
  t.deepEqual(a.result.layers.map((l) => [l.role, l.kept]), [['source', true], ['source', false], ['source', false], ['runtime', false], ['cconv', false]]);
  const plain = (r: BuildResult) => r.layers.filter((l) => l.role !== 'cconv');
  t.deepEqual(plain(b.result), plain(a.result));
  t.not(b.result.layers.at(-1)!.digest, a.result.layers.at(-1)!.digest);
  t.not(b.result.destination.digest, a.result.destination.digest);
  // The kept layer is the source's own blob.
  const src = await readLayoutImage(sourceDir);
  t.is(a.result.layers[0]!.digest, src.manifest.layers[0]!.digest);
  // Different data keys: the two envelopes open to different keys.
  const keys: Buffer[] = [];
  for (const [i, env] of [a.envelope, b.envelope].entries()) {
    const file = join(work, `key-${i}`);
    const r = await cli(['keys', 'open', '--envelope', env, '--broker-key', join(work, 'broker', 'broker.key'), '--out', file]);
    t.is(r.status, 0, r.stderr);
    keys.push(await readFile(file));
  }
  t.notDeepEqual(keys[0], keys[1]);
});

test('plaintexts the final tree no longer holds (whited out, or a file replaced by a directory) are in no output blob either, and are counted', async (t) => {
  const secret = (name: string): Buffer => Buffer.concat(Array.from({ length: 64 }, (_, i) => createHash('sha256').update(`${name} ${i}`).digest()));
  const deleted = secret('deleted data file');
  const replaced = secret('model file replaced by a directory');
  const { app, layers } = await layoutLayers(sourceDir);
  layers.push(await buildLayer([{ name: 'app/data/old.bin', content: deleted }, { name: 'app/model', content: replaced }], { compression: 'gzip' }));
  layers.push(await buildLayer([{ name: 'app/data/.wh.old.bin', content: '' }, { name: 'app/model/', type: 'directory' }, { name: 'app/model/README', content: 'now a directory\n' }], { compression: 'gzip' }));
  const source = join(work, 'source-shadowed');
  await writeOciLayout(source, [{ layers, config: { config: app.config.config }, tag: 'latest' }]);
  for (const plain of [deleted, replaced]) t.true(findWindows(await layoutBlobs(source), plain).length > 0);

  const dataKey = join(work, 'shadowed-data-key');
  await writeFile(dataKey, Buffer.alloc(16, 7), { mode: 0o600 });
  const out = join(work, 'shadowed');
  const run = await cli([
    'build', `oci:${source}`, '--runtime-image', runtime, '--key', key, '--output', `oci:${out}:app`,
    '--encrypt', '/app/data/**', '--encrypt', '/app/model/**', '--data-key', dataKey, '--json',
  ], { SOURCE_DATE_EPOCH: EPOCH });
  t.is(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as BuildResult;
  t.is(result.files.droppedShadowed, 3); // old.bin, the model file, and the message.txt that layer 2 replaces
  t.is(result.files.encrypted, 3); // message.txt, model.bin, model/README
  const outBlobs = await layoutBlobs(out);
  for (const plain of [deleted, replaced, ...versions.map((v) => v.content)]) t.deepEqual(findWindows(outBlobs, plain), []);
  // The whiteout layer keeps its whiteout and directory: only the README's plaintext is gone.
  const top = await readTar((await readLayoutImage(out)).layers.at(-3)!);
  t.deepEqual(top.map((m) => m.header.name), ['app/data/.wh.old.bin', 'app/model/']);
});
