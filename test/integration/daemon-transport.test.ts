/**
 * The docker-daemon transport against a private dockerd: read an imported image and compare it
 * with `docker save`; load an image through the destination and inspect it; error codes.
 */
import test from 'ava';
import type { CconvError } from '../../src/errors.ts';
import type { Digest } from '../../src/image/types.ts';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { readAll } from '../../src/image/streams.ts';
import { copyImage } from '../../src/transports/copy.ts';
import { DaemonDestination, DaemonSource, connectDocker } from '../../src/transports/daemon/index.ts';
import { OciLayoutSource } from '../../src/transports/oci-layout.ts';
import { sharedDockerd } from '../helpers/dockerd.ts';
import { buildLayer, buildTar, sha256, writeOciLayout } from '../helpers/oci-builder.ts';

const dockerd = sharedDockerd(test);
let work: string;

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-daemontest-'));
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh directory per test (tests run concurrently). */
const scratch = (): Promise<string> => mkdtemp(join(work, 't-'));

/** The members of a tar, by name. */
async function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex as AsyncIterable<Readable & { header: { name: string } }>) out.set(entry.header.name, await readAll(entry, 1 << 26, () => new Error('too big')));
  })();
  Readable.from([bytes]).pipe(ex);
  await done;
  return out;
}

test('reads an imported image: config, layers and diff_ids match docker save', async (t) => {
  const d = await dockerd();
  const dir = await scratch();
  const rootfs = join(dir, 'rootfs.tar');
  await writeFile(rootfs, await buildTar([{ name: 'hello.txt', content: 'hi from the daemon\n' }, { name: 'bin/', type: 'directory' }]));
  await d.docker(['import', '--change', 'CMD ["/hello"]', rootfs, 'cconv-test/imported:v1']);
  const id = (await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'cconv-test/imported:v1'])).toString().trim();

  const source = new DaemonSource({ transport: 'docker-daemon', name: 'docker.io/cconv-test/imported', tag: 'v1' }, { docker: connectDocker({ socketPath: d.socketPath }) });
  const image = await source.open({ tmpDir: dir });
  try {
    t.is(sha256(image.configBytes), id as Digest);
    t.deepEqual(image.config.config?.Cmd, ['/hello']);
    const saved = await untar(await d.docker(['save', 'cconv-test/imported:v1']));
    const manifest = JSON.parse(saved.get('manifest.json')!.toString()) as Array<{ Config: string; Layers: string[] }>;
    t.deepEqual(image.configBytes, saved.get(manifest[0]!.Config));
    t.deepEqual(image.layers.map((l) => l.descriptor.digest), manifest[0]!.Layers.map((name) => sha256(saved.get(name)!)));
    const tarBytes = await readAll(await image.layers[0]!.openUncompressed(), 1 << 20, () => new Error('too big'));
    t.is(sha256(tarBytes), image.layers[0]!.diffId);
  } finally {
    await image.close();
  }
  // The saved tar and the spool are gone once the image is closed.
  t.deepEqual((await readdir(dir)).filter((n) => n.startsWith('cconv-')), []);
});

test('loads an image through the destination; docker image inspect sees its config and layers', async (t) => {
  const d = await dockerd();
  const dir = await scratch();
  const a = await buildLayer([{ name: 'a.txt', content: 'layer a\n' }], { compression: 'gzip' });
  const b = await buildLayer([{ name: 'b.txt', content: 'layer b\n' }]);
  const layoutDir = join(dir, 'layout');
  const built = await writeOciLayout(layoutDir, [{ layers: [a, b], tag: 'v1', config: { config: { Cmd: ['/b.txt'] } } }]);
  const dst = new DaemonDestination({ transport: 'docker-daemon', name: 'docker.io/cconv-test/loaded', tag: 't1' }, { docker: connectDocker({ socketPath: d.socketPath }), tmpDir: dir });
  await copyImage(new OciLayoutSource({ transport: 'oci', dir: layoutDir, tag: 'v1' }), dst);
  const info = JSON.parse((await d.docker(['image', 'inspect', 'cconv-test/loaded:t1'])).toString()) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
  t.is(info[0]!.Id, built.images[0]!.configDigest);
  t.deepEqual(info[0]!.RootFS.Layers, [a.diffId, b.diffId]);
  t.deepEqual((await readdir(dir)).filter((n) => n.startsWith('cconv-load-')), []);
});

test('a missing image gives E_IMAGE_NOT_FOUND', async (t) => {
  const d = await dockerd();
  const source = new DaemonSource({ transport: 'docker-daemon', name: 'docker.io/cconv-test/absent', tag: 'x' }, { docker: connectDocker({ socketPath: d.socketPath }) });
  await t.throwsAsync(source.open({ tmpDir: await scratch() }), { code: 'E_IMAGE_NOT_FOUND' });
});

test('a stopped daemon (socket gone) gives E_DAEMON with a hint', async (t) => {
  const source = new DaemonSource({ transport: 'docker-daemon', name: 'docker.io/library/busybox', tag: 'latest' }, { docker: connectDocker({ socketPath: join(work, 'no-daemon.sock') }) });
  const err = await t.throwsAsync<CconvError>(source.open(), { code: 'E_DAEMON' });
  t.regex(err!.hint ?? '', /start Docker/);
});

test('writes nothing to the daemon before commit; abort cleans up', async (t) => {
  const d = await dockerd();
  const dir = await scratch();
  const dst = new DaemonDestination({ transport: 'docker-daemon', name: 'docker.io/cconv-test/aborted', tag: 'a' }, { docker: connectDocker({ socketPath: d.socketPath }), tmpDir: dir });
  const layer = await buildLayer([{ name: 'x', content: 'x' }]);
  await dst.putBlob({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, Readable.from([layer.bytes]));
  await dst.abort();
  await t.throwsAsync(d.docker(['image', 'inspect', 'cconv-test/aborted:a']));
  t.deepEqual((await readdir(dir)).filter((n) => n.startsWith('cconv-load-')), []);
});
