/**
 * The app fixtures and the stand-in gramine-sgx loader under a real (private) dockerd: the
 * original app-glibc and app-musl print what their image config says; a converted image (the
 * app's layers, the gramine-runtime fixture's layer, a cconv layer with app.manifest.sgx, app.sig
 * and the trusted argv, all made with cconv's library: measureImage, signMeasured) prints exactly
 * the same through the stand-in; a flipped byte in a trusted file, or a .sig of another enclave,
 * makes the stand-in exit 1 naming the problem.
 *
 * The converted image is assembled here by hand (src/assemble/ has no entry point yet): Entrypoint
 * ["/usr/bin/gramine-sgx", "/cconv/app"], no Cmd, runs as root, WorkingDir and Env kept.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ensureFixtures, type FixtureInfo } from '../../fixtures/build.ts';
import { generateSigningKey, pemFileSigner } from '../../src/enclave/index.ts';
import { loadRuntimeDir, measureImage, signMeasured } from '../../src/pipeline/index.ts';
import type { GramineRuntime } from '../../src/pipeline/index.ts';
import { openSource } from '../../src/transports/index.ts';
import { dockerRun, sharedDockerd } from '../helpers/dockerd.ts';
import { buildLayer, writeDockerArchive, type BuiltLayer, type TarEntry } from '../helpers/oci-builder.ts';

const dockerd = sharedDockerd(test);
let work: string;
let runtime: GramineRuntime;
let fixtures: Awaited<ReturnType<typeof ensureFixtures>>;

test.before(async () => {
  fixtures = await ensureFixtures();
  runtime = await loadRuntimeDir(fixtures.get('gramine-runtime').dir!);
  work = await mkdtemp('/tmp/cconv-standin-run-');
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** What show.c prints for the fixture config (Entrypoint + Cmd, Env, HOME from /etc/passwd, WorkingDir, User app). */
const expected = (flavour: 'glibc' | 'musl'): string =>
  [
    `libc: ${flavour}`,
    'argc: 3',
    'argv[0]: /app/bin/show',
    'argv[1]: --greet',
    'argv[2]: world',
    'env PATH: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'env HOME: /app',
    'env GREETING: hi',
    `env APP_MODE: ${flavour}-fixture`,
    'env LANG: (unset)',
    'cwd: /app',
    'ids: uid=1000 gid=1000 euid=1000 egid=1000',
    `data: hello from the ${flavour} fixture`,
    '',
  ].join('\n');

/** The uncompressed layer tars of a fixture's OCI layout, in order. */
async function layerTars(info: FixtureInfo): Promise<BuiltLayer[]> {
  const blob = (digest: string): Promise<Buffer> => readFile(join(info.paths.oci!, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const index = JSON.parse((await readFile(join(info.paths.oci!, 'index.json'))).toString());
  const manifest = JSON.parse((await blob(index.manifests[0].digest)).toString());
  const out: BuiltLayer[] = [];
  for (const l of manifest.layers as Array<{ digest: string; mediaType: string }>) {
    const bytes = await blob(l.digest);
    const tar = l.mediaType.endsWith('+gzip') ? gunzipSync(bytes) : bytes;
    const digest = `sha256:${createHash('sha256').update(tar).digest('hex')}` as BuiltLayer['digest'];
    out.push({ bytes: tar, tar, digest, diffId: digest, size: tar.length, compression: 'none', mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  }
  return out;
}

let keyCount = 0;

/** Measures and signs `name` with a throw-away key; returns the cconv layer's files and the app config. */
async function convert(name: string) {
  const info = fixtures.get(name);
  const image = await openSource({ transport: 'oci', dir: info.paths.oci! }).open();
  try {
    const measured = await measureImage(image, { runtime });
    const key = await generateSigningKey(join(work, `key-${keyCount++}.pem`));
    const { sigstruct, identity } = await signMeasured(measured, { signer: await pemFileSigner(key.path), date: { year: 2026, month: 1, day: 1 } });
    const argv = measured.rendered.argvFile!;
    return { info, config: image.config.config!, manifestSgx: measured.manifestSgx, sigstruct, argv: argv.content, mrenclave: identity.mrenclave };
  } finally {
    await image.close();
  }
}

type Converted = Awaited<ReturnType<typeof convert>>;

/** Loads the converted image (plus `extra` layers on top) into the daemon and returns its tag. */
async function loadConverted(c: Converted, tag: string, options: { sig?: Buffer; extra?: TarEntry[] } = {}): Promise<string> {
  const ro = { mode: 0o444 };
  const cconvLayer = await buildLayer([
    { name: 'cconv/', type: 'directory' },
    { name: 'cconv/app.manifest.sgx', content: c.manifestSgx, ...ro },
    { name: 'cconv/app.sig', content: options.sig ?? c.sigstruct, ...ro },
    { name: 'cconv/argv', content: c.argv, ...ro },
  ]);
  const layers = [...(await layerTars(c.info)), ...(await layerTars(fixtures.get('gramine-runtime'))), cconvLayer];
  if (options.extra) layers.push(await buildLayer(options.extra));
  const config = {
    Env: c.config.Env,
    WorkingDir: c.config.WorkingDir,
    Entrypoint: ['/usr/bin/gramine-sgx', '/cconv/app'],
    Labels: { 'org.cconv.mrenclave': c.mrenclave },
  };
  const file = join(work, `${tag.replace(/[/:]/g, '_')}.tar`);
  await writeDockerArchive(file, [{ layers, config: { config }, tag }]);
  await (await dockerd()).docker(['load', '-i', file]);
  return tag;
}

/** `docker run --rm --network none TAG` on the private daemon. */
async function run(tag: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return dockerRun(await dockerd(), tag);
}

for (const flavour of ['glibc', 'musl'] as const) {
  test(`app-${flavour}: the original prints its argv, env, workdir and user; converted, the stand-in runs it the same`, async (t) => {
    const info = fixtures.get(`app-${flavour}`);
    await (await dockerd()).docker(['load', '-i', info.paths['docker-archive']!]);
    const original = await run(info.repoTag);
    t.deepEqual(original, { status: 0, stdout: expected(flavour), stderr: '' });

    const tag = await loadConverted(await convert(`app-${flavour}`), `cconv-test/app-${flavour}-sgx:latest`);
    t.deepEqual(await run(tag), original);
  });
}

test('app-glibc converted: one flipped byte in a trusted file makes the stand-in exit 1 naming it', async (t) => {
  const c = await convert('app-glibc');
  const bad = Buffer.from('hello from the glibc fixture\n');
  bad[0] = bad[0]! ^ 0x01;
  const extra: TarEntry[] = [
    { name: 'app/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'app/data/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'app/data/message.txt', content: bad, uid: 1000, gid: 1000 },
  ];
  const r = await run(await loadConverted(c, 'cconv-test/app-glibc-tampered:latest', { extra }));
  t.is(r.status, 1);
  t.is(r.stdout, '');
  const sha = createHash('sha256').update(bad).digest('hex');
  t.regex(r.stderr, new RegExp(`^gramine-sgx \\(cconv stand-in\\): error: trusted file file:/app/data/message.txt has sha256 ${sha}, the manifest expects [0-9a-f]{64}\\n$`));
});

test('app-musl converted with the .sig of another enclave: the stand-in reports the MRENCLAVE mismatch', async (t) => {
  const [musl, glibc] = [await convert('app-musl'), await convert('app-glibc')];
  t.not(musl.mrenclave, glibc.mrenclave);
  const r = await run(await loadConverted(musl, 'cconv-test/app-musl-wrong-sig:latest', { sig: glibc.sigstruct }));
  t.is(r.status, 1);
  t.is(
    r.stderr,
    `gramine-sgx (cconv stand-in): error: MRENCLAVE mismatch: the manifest and /usr/lib/x86_64-linux-gnu/gramine/sgx/libpal.so measure ${musl.mrenclave}, but /cconv/app.sig is signed for ${glibc.mrenclave}\n`,
  );
});
