import test from 'ava';
import { checkConfigMatchesManifest, parseConfig } from '../../src/image/config.ts';
import { isLayerMediaType, layerCompression, sniffCompression } from '../../src/image/media.ts';
import type { Compression, Digest } from '../../src/image/types.ts';
import { parseImageDocument, parseIndex, parseManifest } from '../../src/image/validate.ts';

const D1 = `sha256:${'1'.repeat(64)}` as Digest;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const manifest = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D1, size: 10 },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D2, size: 20 },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D3, size: 0 },
  ],
  ...over,
});
const config = (over: Record<string, unknown> = {}) => ({
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['A=1'], Cmd: ['/bin/sh'], Entrypoint: null },
  rootfs: { type: 'layers', diff_ids: [D2, D3] },
  ...over,
});

test('valid OCI and Docker manifests and indexes parse', (t) => {
  t.is(parseManifest(json(manifest())).layers.length, 2);
  t.is(parseManifest(json(manifest({ mediaType: undefined })), OCI_MANIFEST).config.digest, D1);
  const docker = manifest({ mediaType: DOCKER_MANIFEST, config: { mediaType: DOCKER_CONFIG, digest: D1, size: 10 } });
  t.is(parseImageDocument(json(docker)).kind, 'manifest');
  const index = { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: D1, size: 5, platform: { os: 'linux', architecture: 'amd64' } }] };
  t.is(parseIndex(json(index)).manifests.length, 1);
  t.is(parseImageDocument(json({ schemaVersion: 2, manifests: [] })).kind, 'index');
});

const badManifests: Array<[string, unknown, RegExp]> = [
  ['not JSON', '{', /manifest: not valid JSON/],
  ['an array', [], /manifest: not a JSON object/],
  ['schemaVersion 1', manifest({ schemaVersion: 1 }), /manifest\.schemaVersion: must be 2, got 1/],
  ['missing schemaVersion', manifest({ schemaVersion: undefined }), /manifest\.schemaVersion: must be 2/],
  ['index media type', manifest({ mediaType: OCI_INDEX }), /manifest\.mediaType: "application\/vnd\.oci\.image\.index\.v1\+json" is not an image manifest/],
  ['manifests field', manifest({ manifests: [] }), /has a "manifests" field/],
  ['no config', manifest({ config: undefined }), /manifest\.config: must be an object/],
  ['bad config digest', manifest({ config: { mediaType: 'x', digest: 'sha256:abc', size: 1 } }), /manifest\.config\.digest: not a valid digest/],
  ['negative size', manifest({ layers: [{ mediaType: 'x', digest: D2, size: -1 }] }), /manifest\.layers\[0\]\.size: must be a non-negative integer, got -1/],
  ['fractional size', manifest({ layers: [{ mediaType: 'x', digest: D2, size: 1.5 }] }), /layers\[0\]\.size/],
  ['unsafe size', manifest({ layers: [{ mediaType: 'x', digest: D2, size: 2 ** 53 }] }), /layers\[0\]\.size/],
  ['string size', manifest({ layers: [{ mediaType: 'x', digest: D2, size: '1' }] }), /layers\[0\]\.size/],
  ['missing mediaType', manifest({ layers: [{ digest: D2, size: 1 }] }), /manifest\.layers\[0\]\.mediaType: must be a non-empty string/],
  ['layers not an array', manifest({ layers: {} }), /manifest\.layers: must be an array/],
  ['bad annotations', manifest({ annotations: { a: 1 } }), /manifest\.annotations: must be an object of strings/],
  ['bad urls', manifest({ layers: [{ mediaType: 'x', digest: D2, size: 1, urls: 'http://x' }] }), /layers\[0\]\.urls/],
  ['docker manifest with OCI config', manifest({ mediaType: DOCKER_MANIFEST }), /manifest\.config\.mediaType: a Docker manifest needs/],
];
for (const [name, doc, message] of badManifests) {
  test(`invalid manifest: ${name}`, (t) => {
    t.throws(() => parseManifest(typeof doc === 'string' ? Buffer.from(doc) : json(doc)), { code: 'E_MANIFEST_INVALID', message });
  });
}

test('manifest media type must agree with the one it was served as', (t) => {
  t.throws(() => parseManifest(json(manifest()), DOCKER_MANIFEST), {
    code: 'E_MANIFEST_INVALID',
    message: /manifest\.mediaType: is "application\/vnd\.oci\.image\.manifest\.v1\+json" but the document was served as "application\/vnd\.docker/,
  });
});

const badIndexes: Array<[string, unknown, RegExp]> = [
  ['manifest media type', { schemaVersion: 2, mediaType: OCI_MANIFEST, manifests: [] }, /index\.mediaType: .* is not an index media type/],
  ['no manifests', { schemaVersion: 2, mediaType: OCI_INDEX }, /index\.manifests: must be an array/],
  ['layers field', { schemaVersion: 2, manifests: [], layers: [] }, /a manifest, not an index/],
  ['bad entry digest', { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: D1.toUpperCase(), size: 1 }] }, /index\.manifests\[0\]\.digest/],
  ['platform without os', { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: D1, size: 1, platform: { architecture: 'amd64' } }] }, /index\.manifests\[0\]\.platform\.os: must be a non-empty string/],
];
for (const [name, doc, message] of badIndexes) {
  test(`invalid index: ${name}`, (t) => {
    t.throws(() => parseIndex(json(doc)), { code: 'E_MANIFEST_INVALID', message });
  });
}

test('unknown document media type -> E_MEDIA_TYPE', (t) => {
  t.throws(() => parseImageDocument(json(manifest()), 'application/vnd.docker.distribution.manifest.v1+prettyjws'), { code: 'E_MEDIA_TYPE' });
});

test('valid config parses and matches the manifest', (t) => {
  const c = parseConfig(json(config({ extra: { kept: true } })));
  t.deepEqual(c.rootfs.diff_ids, [D2, D3]);
  t.deepEqual(c.extra, { kept: true });
  t.notThrows(() => checkConfigMatchesManifest(parseManifest(json(manifest())), c));
});

const badConfigs: Array<[string, unknown, RegExp]> = [
  ['missing os', config({ os: undefined }), /config\.os: must be a non-empty string/],
  ['empty architecture', config({ architecture: '' }), /config\.architecture: must be a non-empty string/],
  ['rootfs missing', config({ rootfs: undefined }), /config\.rootfs: must be an object/],
  ['rootfs type', config({ rootfs: { type: 'layered', diff_ids: [] } }), /config\.rootfs\.type: must be "layers", got "layered"/],
  ['diff_ids not an array', config({ rootfs: { type: 'layers' } }), /config\.rootfs\.diff_ids: must be an array/],
  ['bad diff_id', config({ rootfs: { type: 'layers', diff_ids: [D2, 'sha256:1'] } }), /config\.rootfs\.diff_ids\[1\]: not a valid digest/],
  ['Env not strings', config({ config: { Env: [1] } }), /config\.config\.Env: must be an array of strings/],
  ['Cmd a string', config({ config: { Cmd: '/bin/sh' } }), /config\.config\.Cmd: must be an array of strings/],
  ['User a number', config({ config: { User: 0 } }), /config\.config\.User: must be a string/],
];
for (const [name, doc, message] of badConfigs) {
  test(`invalid config: ${name}`, (t) => {
    t.throws(() => parseConfig(json(doc)), { code: 'E_MANIFEST_INVALID', message });
  });
}

test('diff_ids count must equal the layer count, non-layer descriptors excluded', (t) => {
  const m = parseManifest(json(manifest()));
  t.throws(() => checkConfigMatchesManifest(m, parseConfig(json(config({ rootfs: { type: 'layers', diff_ids: [D2] } })))), {
    code: 'E_MANIFEST_INVALID',
    message: 'config.rootfs.diff_ids: has 1 entries but the manifest has 2 layers',
  });
  const withArtifact = parseManifest(json(manifest({ layers: [...manifest().layers, { mediaType: 'application/vnd.oci.empty.v1+json', digest: D1, size: 2 }] })));
  t.notThrows(() => checkConfigMatchesManifest(withArtifact, parseConfig(json(config()))));
});

test('layer media types map to compressions', (t) => {
  const table: Array<[string, Compression]> = [
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
  ];
  for (const [type, compression] of table) {
    t.is(layerCompression(type), compression, type);
    t.true(isLayerMediaType(type));
  }
  for (const type of ['application/vnd.oci.image.layer.v1.tar+bzip2', 'application/octet-stream', 'toString']) {
    t.throws(() => layerCompression(type), { code: 'E_MEDIA_TYPE' }, type);
  }
  t.false(isLayerMediaType('application/vnd.oci.empty.v1+json'));
});

test('compression sniffing', (t) => {
  t.is(sniffCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  t.is(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  t.is(sniffCompression(Buffer.from('etc/')), 'none');
  t.is(sniffCompression(Buffer.alloc(0)), 'none');
});
