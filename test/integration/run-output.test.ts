/**
 * The outputs of `cconv build` start under a runtime of the real Gramine's shape (issue 13): the
 * `gramine-runtime` fixture's loader is a dynamically linked PIE needing glibc and
 * libprotobuf-c.so.1 from Debian's packages, its gramine-sgx is a bash script, and links in its
 * PKGLIBDIR point out of it. On a real (private) dockerd, a static app with nothing else in its
 * image, a musl app with busybox and no bash, and a Debian glibc app each print exactly what the
 * original prints. The runtime layer holds the loader's closure and no dangling link. Taking one
 * library of the closure away makes `cconv verify` fail (E_VERIFY_MISMATCH) and the container fail
 * as the real loader would; a flipped byte in a trusted file, or the .sig of another enclave,
 * makes the stand-in refuse to start.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import type { BuildResult } from '../../src/cli/commands/build.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { openSource } from '../../src/transports/index.ts';
import { cli } from '../helpers/cli.ts';
import { dockerRun, sharedDockerd } from '../helpers/dockerd.ts';
import { tarMembers } from '../helpers/assemble-fixture.ts';
import { buildLayer, writeDockerArchive, writeOciLayout, type BuiltLayer, type TarEntry } from '../helpers/oci-builder.ts';

const EPOCH = '1767225600';
const PKGLIBDIR = 'usr/lib/x86_64-linux-gnu/gramine';
const APPS = ['app-static', 'app-musl', 'app-glibc'] as const;
const dockerd = sharedDockerd(test);
let fixtures: FixtureSet;
let work: string;
let key: string;
/** Each app's build result and output OCI layout. */
const built = new Map<string, { result: BuildResult; layout: string }>();

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-run-output-');
  key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
  const runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
  await Promise.all(APPS.map(async (app) => {
    const layout = join(work, app);
    const r = await cli(['build', `oci:${fixtures.path(app, 'oci')}`, '--runtime-image', runtime, '--key', key, '--output', `oci:${layout}:sgx`, '--json'], { SOURCE_DATE_EPOCH: EPOCH });
    if (r.status !== 0) throw new Error(`cconv build ${app} failed: ${r.stderr}`);
    built.set(app, { result: JSON.parse(r.stdout) as BuildResult, layout });
  }));
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The uncompressed layer tars and config of an OCI layout's one image. */
async function layersOf(layout: string): Promise<{ layers: BuiltLayer[]; config: { config: Record<string, unknown> } }> {
  const blob = (digest: string): Promise<Buffer> => readFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const index = JSON.parse((await readFile(join(layout, 'index.json'))).toString());
  const manifest = JSON.parse((await blob(index.manifests[0].digest)).toString());
  const layers: BuiltLayer[] = [];
  for (const l of manifest.layers as Array<{ digest: string; mediaType: string }>) {
    const bytes = await blob(l.digest);
    const tar = l.mediaType.endsWith('+gzip') ? gunzipSync(bytes) : bytes;
    const digest = `sha256:${createHash('sha256').update(tar).digest('hex')}` as BuiltLayer['digest'];
    layers.push({ bytes: tar, tar, digest, diffId: digest, size: tar.length, compression: 'none', mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  }
  return { layers, config: JSON.parse((await blob(manifest.config.digest)).toString()) };
}

/** Loads an app's output (plus one `extra` layer on top, if given) into the daemon as `tag`. */
async function load(app: string, tag: string, extra?: TarEntry[]): Promise<string> {
  const { layers, config } = await layersOf(built.get(app)!.layout);
  if (extra !== undefined) layers.push(await buildLayer(extra));
  const file = join(work, `${tag.replace(/[/:]/g, '_')}.tar`);
  await writeDockerArchive(file, [{ layers, config: { config: config.config }, tag }]);
  await (await dockerd()).docker(['load', '-i', file]);
  return tag;
}

async function run(tag: string) {
  return dockerRun(await dockerd(), tag);
}

for (const app of APPS) {
  test(`${app}: the output starts through Gramine's loader and prints what the original prints`, async (t) => {
    const d = await dockerd();
    await d.docker(['load', '-i', fixtures.path(app, 'docker-archive')]);
    const original = await run(fixtures.get(app).repoTag);
    t.is(original.status, 0, original.stderr);
    t.regex(original.stdout, /^libc: (glibc|musl)\nargc: 3\nargv\[0\]: \/app\/bin\/show\n/);
    const tag = await load(app, `cconv-test/${app}-sgx:latest`);
    const config = JSON.parse((await d.docker(['image', 'inspect', '--format', '{{json .Config}}', tag])).toString()) as { Entrypoint: string[] };
    t.deepEqual(config.Entrypoint, [`/${PKGLIBDIR}/sgx/loader`, `/${PKGLIBDIR}/sgx/libpal.so`, 'init', '/cconv/app']);
    t.deepEqual(await run(tag), original);
  });
}

test('the runtime layer holds the loader closure and no dangling link; the outputs verify', async (t) => {
  const image = await openSource({ transport: 'oci', dir: built.get('app-static')!.layout, tag: 'sgx' }).open();
  try {
    const rootfs = await flatten(image);
    for (const name of ['ld-linux-x86-64.so.2', 'libprotobuf-c.so.1', 'libc.so.6']) {
      t.is(rootfs.get(`${PKGLIBDIR}/sgx/host/${name}`)?.type, 'file', name);
    }
    t.is(rootfs.get(`${PKGLIBDIR}/runtime/glibc/libsecret_prov_attest.so`)?.type, 'file');
    const dangling = [...rootfs.entries()].filter((e) => e.type === 'symlink' && rootfs.resolve(e.path) === undefined).map((e) => e.path);
    t.deepEqual(dangling, []);
    t.is(rootfs.get('usr/bin/gramine-sgx'), undefined); // the bash script is not needed, and not copied
  } finally {
    await image.close();
  }
  for (const app of APPS) {
    const v = await cli(['verify', `oci:${built.get(app)!.layout}:sgx`, '--expect-mrenclave', built.get(app)!.result.identity.mrenclave]);
    t.is(v.status, 0, `${app}: ${v.stderr}`);
  }
});

test('one library of the closure deleted by a layer on top: verify is E_VERIFY_MISMATCH, and the loader fails to start', async (t) => {
  const layout = join(work, 'broken');
  const { layers, config } = await layersOf(built.get('app-musl')!.layout);
  layers.push(await buildLayer([{ name: `${PKGLIBDIR}/sgx/host/.wh.libprotobuf-c.so.1`, content: '' }]));
  await writeOciLayout(layout, [{ layers, config: { config: config.config }, tag: 'sgx' }]);
  const v = await cli(['verify', `oci:${layout}:sgx`, '--json']);
  t.is(v.status, 4, v.stderr);
  t.regex(v.stdout, /E_VERIFY_MISMATCH/);
  t.regex(v.stdout, /libprotobuf-c\.so\.1/);

  const r = await run(await load('app-musl', 'cconv-test/app-musl-no-protobuf:latest', [{ name: `${PKGLIBDIR}/sgx/host/.wh.libprotobuf-c.so.1`, content: '' }]));
  t.not(r.status, 0);
  t.regex(r.stderr, /libprotobuf-c\.so\.1: cannot open shared object file/);
});

test('a flipped byte in a trusted file, or the .sig of another enclave: the stand-in refuses to start', async (t) => {
  const bad = Buffer.from('hello from the glibc fixture\n');
  bad[0] = bad[0]! ^ 0x01;
  const tampered = await run(await load('app-glibc', 'cconv-test/app-glibc-tampered:latest', [
    { name: 'app/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'app/data/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'app/data/message.txt', content: bad, uid: 1000, gid: 1000 },
  ]));
  t.is(tampered.status, 1);
  t.is(tampered.stdout, '');
  t.regex(tampered.stderr, new RegExp(`trusted file file:/app/data/message\\.txt has sha256 ${createHash('sha256').update(bad).digest('hex')}, the manifest expects [0-9a-f]{64}\\n$`));

  const [musl, glibc] = [built.get('app-musl')!.result.identity.mrenclave, built.get('app-glibc')!.result.identity.mrenclave];
  t.not(musl, glibc);
  const cconvLayer = (await layersOf(built.get('app-glibc')!.layout)).layers.at(-1)!;
  const sig = (await tarMembers(cconvLayer.tar)).find((m) => m.name === 'cconv/app.sig')!.content;
  const wrong = await run(await load('app-musl', 'cconv-test/app-musl-wrong-sig:latest', [{ name: 'cconv/app.sig', content: sig, mode: 0o444 }]));
  t.is(wrong.status, 1);
  t.regex(wrong.stderr, new RegExp(`MRENCLAVE mismatch: the manifest and /${PKGLIBDIR}/sgx/libpal\\.so measure ${musl}, but /cconv/app\\.sig is signed for ${glibc}\\n$`));
});

test('a runtime image holding another Gramine: E_CONFIG naming both versions, unless --gramine-version says which constants apply', async (t) => {
  const app = `oci:${fixtures.path('app-static', 'oci')}`;
  const old = `oci:${fixtures.path('gramine-runtime-1.8', 'oci')}`;
  const refused = await cli(['measure', app, '--runtime-image', old, '--json']);
  t.is(refused.status, 2, refused.stderr);
  const { error } = JSON.parse(refused.stdout) as { error: { code: string; message: string; hint: string } };
  t.is(error.code, 'E_CONFIG');
  t.regex(error.message, /holds Gramine 1\.8 \(\/usr\/bin\/gramine-sgx\), but cconv has layout constants for Gramine 1\.9 only/);
  t.regex(error.hint, /--gramine-version 1\.9/);
  const forced = await cli(['measure', app, '--runtime-image', old, '--gramine-version', '1.9', '--json']);
  t.is(forced.status, 0, forced.stderr);
  t.regex(forced.stderr, /holds Gramine 1\.8, measured with Gramine 1\.9's layout/);
  const current = await cli(['measure', app, '--runtime-image', `oci:${fixtures.path('gramine-runtime', 'oci')}`, '--json']);
  t.is(current.status, 0, current.stderr);
  t.is((JSON.parse(current.stdout) as { runtime: { version: string } }).runtime.version, '1.9');
});
