/**
 * The assembled image in a real Docker daemon: written as a docker-archive, `docker load`ed into a
 * private dockerd, then `docker image inspect` must show the loader entrypoint, the identity
 * labels and the layer diff_ids, and a container's filesystem must hold the cconv files.
 */
import test from 'ava';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { assembleImage, writeAssembled } from '../../src/assemble/index.ts';
import { readTar } from '../../src/rootfs/tar-reader.ts';
import { DockerArchiveDestination } from '../../src/transports/index.ts';
import { sharedDockerd } from '../helpers/dockerd.ts';
import { CIPHERTEXT, IDENTITY, inputFor, openBoth, readAll, tempDir } from '../helpers/assemble-fixture.ts';

const dockerd = sharedDockerd(test);

test('docker load accepts the assembled image; inspect shows entrypoint, labels and layers', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = await assembleImage(inputFor(o));
  t.teardown(() => img.close());
  const file = join(dir, 'out.tar');
  await writeAssembled(img, new DockerArchiveDestination({ transport: 'docker-archive', file, tag: 'cconv-test/app:sgx' }));

  const d = await dockerd();
  await d.docker(['load', '-i', file]);
  const [info] = JSON.parse((await d.docker(['image', 'inspect', 'cconv-test/app:sgx'])).toString());
  t.is(info.Id, img.configDescriptor.digest);
  t.deepEqual(info.Config.Entrypoint, inputFor(o).entrypoint);
  t.is(info.Config.Cmd, null);
  t.is(info.Config.User, '');
  t.is(info.Config.WorkingDir, '/app');
  t.deepEqual(info.Config.Env, ['PATH=/usr/bin:/bin', 'GREETING=hi']); // the source's LD_PRELOAD is not
  t.deepEqual(info.Config.Labels, {
    'com.example.a': 'a',
    'com.example.z': 'z',
    'org.cconv.runtime': 'gramine',
    'org.cconv.runtime.version': '1.9',
    'org.cconv.sgx.debug': 'false',
    'org.cconv.sgx.isvprodid': '7',
    'org.cconv.sgx.isvsvn': '3',
    'org.cconv.sgx.mrenclave': IDENTITY.mrenclave,
    'org.cconv.sgx.mrsigner': IDENTITY.mrsigner,
    'org.cconv.source.digest': o.app.manifestDigest,
    'org.cconv.source.ref': 'oci:app:latest',
  });
  t.deepEqual(info.RootFS.Layers, img.layers.map((l) => l.diffId));

  // The container's view: cconv files and the ciphertext with its owner, as Docker applied the layers.
  const id = (await d.docker(['create', 'cconv-test/app:sgx'])).toString().trim();
  t.teardown(() => d.docker(['rm', id]).then(() => undefined));
  const exported = await d.docker(['export', id], { maxBuffer: 1 << 28 });
  const seen = new Map<string, { mode: number; uid: number; gid: number; content: Buffer }>();
  for await (const e of readTar(Readable.from([exported]))) {
    seen.set(e.name.replace(/\/$/, ''), { mode: e.mode, uid: e.uid, gid: e.gid, content: await readAll(e.body()) });
  }
  t.deepEqual(seen.get('app/secret.key'), { mode: 0o600, uid: 1000, gid: 1001, content: CIPHERTEXT });
  t.is(seen.get('cconv/app.argv')?.mode, 0o444);
  t.is(seen.get('cconv/app.manifest.sgx')?.content.toString(), 'manifest bytes\n');
  t.is(seen.get('usr/lib/x86_64-linux-gnu/gramine/sgx/loader')?.content.toString(), 'patched loader\n');
  t.is(seen.get('usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/libmbedcrypto_gramine.so.16')?.content.toString(), 'mbedcrypto\n');
  t.is(seen.get('app')?.mode, 0o750);
  t.is(seen.get('srv/work')?.mode, 0o755);
  t.false(seen.has('etc/os-release'));
});
