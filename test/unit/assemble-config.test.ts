import test from 'ava';
import { createHash } from 'node:crypto';
import { assembleImage, keptDescriptor } from '../../src/assemble/index.ts';
import type { Digest } from '../../src/image/types.ts';
import { IDENTITY, inputFor, openBoth, tempDir } from '../helpers/assemble-fixture.ts';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

test('config: kept fields, loader entrypoint, identity labels, diff_ids, history; manifest annotations', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = await assembleImage(inputFor(o));
  t.teardown(() => img.close());
  const labels = {
    'org.cconv.runtime': 'gramine',
    'org.cconv.runtime.version': '1.9',
    'org.cconv.sgx.debug': 'false',
    'org.cconv.sgx.isvprodid': '7',
    'org.cconv.sgx.isvsvn': '3',
    'org.cconv.sgx.mrenclave': IDENTITY.mrenclave,
    'org.cconv.sgx.mrsigner': IDENTITY.mrsigner,
    'org.cconv.source.digest': o.app.manifestDigest,
    'org.cconv.source.ref': 'oci:app:latest',
  };
  const created = '2000-01-01T00:00:00Z';
  const by = 'cconv build';
  // Exact bytes: compact JSON, fixed key order, maps sorted.
  const expected = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: '',
      ExposedPorts: { '8080/tcp': {} },
      Env: ['PATH=/usr/bin:/bin', 'GREETING=hi'], // the source's LD_PRELOAD is dropped
      Entrypoint: inputFor(o).entrypoint,
      Cmd: null,
      WorkingDir: '/app',
      Labels: { 'com.example.a': 'a', 'com.example.z': 'z', ...labels },
    },
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffId) },
    history: [
      { created, created_by: 'layer 0', comment: 'cconv: rewritten without encrypted files' },
      { created_by: 'ENV', empty_layer: true },
      { created_by: 'layer 1', comment: 'c1; cconv: rewritten without encrypted files' },
      { created_by: 'layer 2' },
      { created, created_by: by, comment: 'cconv: gramine 1.9 runtime' },
      { created, created_by: by, comment: 'cconv: enclave manifest, signature, trusted argv, encrypted files' },
    ],
  };
  t.is(img.configBytes.toString(), JSON.stringify(expected));
  t.deepEqual(img.configDescriptor, { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(img.configBytes), size: img.configBytes.length });
  t.is(img.layers[2]!.diffId, o.app.layers[2]!.diffId);

  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: img.configDescriptor,
    layers: img.layers.map((l) => ({ mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size })),
    annotations: { ...labels, 'org.opencontainers.image.base.digest': o.app.manifestDigest },
  };
  t.is(img.manifestBytes.toString(), JSON.stringify(manifest));
  t.is(img.manifestDigest, sha(img.manifestBytes));
  t.is(img.manifestMediaType, 'application/vnd.oci.image.manifest.v1+json');
});

test('Cmd given, debug identity, source without history: one synthetic entry per layer', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const noHistory = { ...o.app, config: { ...o.app.config, history: [] } };
  const img = await assembleImage(inputFor(o, { source: noHistory, cmd: ['--x'], identity: { ...IDENTITY, debug: true }, encrypted: [] }));
  t.teardown(() => img.close());
  const config = JSON.parse(img.configBytes.toString());
  t.deepEqual(config.config.Cmd, ['--x']);
  t.is(config.config.Labels['org.cconv.sgx.debug'], 'true');
  t.deepEqual(img.rewritten, []);
  t.deepEqual(config.history.slice(0, 3), [0, 1, 2].map((i) => ({ created: '2000-01-01T00:00:00Z', created_by: `source layer ${i}`, comment: 'source history unavailable' })));
  t.deepEqual(img.layers.slice(0, 3).map((l) => [l.kept, l.descriptor]), o.app.layers.map((l) => [true, l.descriptor]));
});

test('kept Docker layers get the OCI media type of the same bytes; OCI descriptors are unchanged', (t) => {
  const digest = `sha256:${'1'.repeat(64)}` as Digest;
  t.deepEqual(keptDescriptor({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest, size: 9 }), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 9 });
  t.deepEqual(keptDescriptor({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest, size: 9 }), { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 9 });
  const zstd = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest, size: 9, annotations: { a: 'b' } };
  t.is(keptDescriptor(zstd), zstd);
});
