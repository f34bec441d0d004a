/** Statements, predicates, the trusted-file list digest and referrer manifests: exact bytes. */
import test from 'ava';
import { createHash } from 'node:crypto';
import type { Digest } from '../../src/image/types.ts';
import {
  ENCLAVE_PREDICATE_TYPE,
  EMPTY_DESCRIPTOR,
  buildStatement,
  canonicalJson,
  enclavePredicate,
  imageSubject,
  mergeReferrersIndex,
  parseEnclavePredicate,
  predicateFromLabels,
  provenancePredicate,
  referrerManifest,
  statementBytes,
  trustedFilesDigest,
  trustedFilesList,
} from '../../src/publish/index.ts';

const A = 'a'.repeat(64);
const Z = '0'.repeat(64);
const IMAGE = `sha256:${'1'.repeat(64)}` as Digest;
const identity = {
  mrenclave: 'e'.repeat(64),
  mrsigner: 'f'.repeat(64),
  isvProdId: 7,
  isvSvn: 3,
  debug: false,
  date: '2024-01-02',
  attributes: { flags: '0x4', xfrm: '0x3', flagsMask: '0xffffffffffffffff', xfrmMask: '0xfffffffffff9ff1b', miscSelect: 0, miscMask: 4294967295 },
};

test('canonical JSON sorts keys at every level, drops undefined, keeps array order', (t) => {
  t.is(canonicalJson({ b: 1, a: [{ d: 'x', c: null }, 2], u: undefined, é: true }), '{"a":[{"c":null,"d":"x"},2],"b":1,"é":true}');
  t.throws(() => canonicalJson({ n: Number.NaN }), { code: 'E_INTERNAL' });
});

test('trusted-file list: URI TAB SHA256 LF in manifest order, digest over it (sha256sum of the same text)', (t) => {
  const files = [{ uri: 'file:/usr/lib/libc.so.6', sha256: A }, { uri: 'file:/app/run', sha256: Z }];
  t.is(trustedFilesList(files), `file:/usr/lib/libc.so.6\t${A}\nfile:/app/run\t${Z}\n`);
  // Expected value from: printf 'file:/usr/lib/libc.so.6\t<a*64>\nfile:/app/run\t<0*64>\n' | sha256sum
  t.deepEqual(trustedFilesDigest(files), { count: 2, digest: 'sha256:579ce4ec17414a490ae4c5c773641afd08458f4bc4cc9a82b13d784d5bfc2346' });
  t.is(trustedFilesDigest([]).digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.throws(() => trustedFilesList([{ uri: 'file:/a\tb', sha256: A }]), { code: 'E_TRUSTED_FILE' });
  t.throws(() => trustedFilesList([{ uri: 'file:/a', sha256: A.toUpperCase() }]), { code: 'E_TRUSTED_FILE' });
});

test('enclave statement: exact canonical bytes', (t) => {
  const predicate = enclavePredicate({
    identity,
    runtime: { name: 'gramine', version: '1.9' },
    trustedFiles: [{ uri: 'file:/app/run', sha256: Z }],
    encryptedPaths: ['/data/z', '/data/a'],
    releasePolicyDigests: { skr: `sha256:${A}` },
  });
  const statement = buildStatement(imageSubject('registry.example/app', IMAGE), ENCLAVE_PREDICATE_TYPE, predicate);
  const trustedDigest = `sha256:${createHash('sha256').update(`file:/app/run\t${Z}\n`).digest('hex')}`;
  t.is(
    statementBytes(statement).toString('utf8'),
    '{"_type":"https://in-toto.io/Statement/v1","predicate":{' +
      '"attributes":{"flags":"0x4","flagsMask":"0xffffffffffffffff","miscMask":4294967295,"miscSelect":0,"xfrm":"0x3","xfrmMask":"0xfffffffffff9ff1b"},' +
      `"debug":false,"encryptedPaths":["/data/a","/data/z"],"isvProdId":7,"isvSvn":3,"mrenclave":"${'e'.repeat(64)}","mrsigner":"${'f'.repeat(64)}",` +
      `"releasePolicyDigests":{"skr":"sha256:${A}"},"runtime":{"name":"gramine","version":"1.9"},"trustedFiles":{"count":1,"digest":"${trustedDigest}"}},` +
      `"predicateType":"https://cconv.dev/attestation/sgx-enclave/v1","subject":[{"digest":{"sha256":"${'1'.repeat(64)}"},"name":"registry.example/app"}]}`,
  );
  t.throws(() => enclavePredicate({ identity: { ...identity, mrenclave: 'E'.repeat(64) } }), { code: 'E_USAGE' });
});

test('provenance: SLSA v1 with both images by digest, times from SOURCE_DATE_EPOCH', (t) => {
  const predicate = provenancePredicate({
    source: { reference: 'docker-daemon:app:1', digest: `sha256:${A}` as Digest },
    runtime: { reference: 'docker://mcr.example/gramine:1.9', digest: `sha256:${Z}` as Digest },
    parameters: { policy: 'default', debug: false },
    builderVersion: { cconv: '0.1.0' },
    invocationId: 'run-42',
    sourceDateEpoch: 1700000000,
  });
  t.is(
    canonicalJson(predicate),
    '{"buildDefinition":{"buildType":"https://cconv.dev/buildtypes/gramine-sgx/v1",' +
      '"externalParameters":{"options":{"debug":false,"policy":"default"},"runtime":"docker://mcr.example/gramine:1.9","source":"docker-daemon:app:1"},' +
      `"resolvedDependencies":[{"digest":{"sha256":"${A}"},"name":"source","uri":"docker-daemon:app:1"},{"digest":{"sha256":"${Z}"},"name":"runtime","uri":"docker://mcr.example/gramine:1.9"}]},` +
      '"runDetails":{"builder":{"id":"https://cconv.dev/builder/cconv-cli","version":{"cconv":"0.1.0"}},' +
      '"metadata":{"finishedOn":"2023-11-14T22:13:20Z","invocationId":"run-42","startedOn":"2023-11-14T22:13:20Z"}}}',
  );
  const bare = provenancePredicate({ source: { reference: 'oci:/x:1', digest: `sha256:${A}` as Digest } });
  t.deepEqual(bare.runDetails.metadata, {});
  t.deepEqual(bare.buildDefinition.externalParameters, { source: 'oci:/x:1', options: {} });
});

test('predicate from labels: measurements required, optional members parsed', (t) => {
  const labels = { 'org.cconv.sgx.mrenclave': 'e'.repeat(64), 'org.cconv.sgx.mrsigner': 'f'.repeat(64), 'org.cconv.sgx.isvsvn': '2', 'org.cconv.runtime': 'gramine', 'org.cconv.runtime.version': '1.9' };
  t.deepEqual(predicateFromLabels(labels), { mrenclave: 'e'.repeat(64), mrsigner: 'f'.repeat(64), isvSvn: 2, runtime: { name: 'gramine', version: '1.9' }, encryptedPaths: [], releasePolicyDigests: {} });
  t.throws(() => predicateFromLabels({ 'org.cconv.sgx.mrenclave': 'e'.repeat(64) }), { code: 'E_USAGE' });
  t.throws(() => predicateFromLabels({ ...labels, 'org.cconv.sgx.isvsvn': '70000' }), { code: 'E_MANIFEST_INVALID' });
  t.throws(() => parseEnclavePredicate({ mrenclave: 'x', mrsigner: 'f'.repeat(64) }, 'p', 'E_ATTESTATION'), { code: 'E_ATTESTATION' });
  t.throws(() => parseEnclavePredicate({ mrenclave: 'e'.repeat(64), mrsigner: 'f'.repeat(64), debug: 'no' }, 'p'), { code: 'E_USAGE' });
});

test('referrer manifest: exact bytes, digest, and the descriptor listed in the index', (t) => {
  const bundle = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: IMAGE, size: 123, annotations: { dropped: 'yes' } };
  const m = referrerManifest(bundle, subject, ENCLAVE_PREDICATE_TYPE);
  const bundleDigest = `sha256:${createHash('sha256').update(bundle).digest('hex')}`;
  t.is(
    m.bytes.toString('utf8'),
    '{"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://cconv.dev/attestation/sgx-enclave/v1"},' +
      '"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",' +
      '"config":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","mediaType":"application/vnd.oci.empty.v1+json","size":2},' +
      `"layers":[{"digest":"${bundleDigest}","mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":${bundle.length}}],` +
      `"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2,"subject":{"digest":"${IMAGE}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":123}}`,
  );
  t.is(m.descriptor.digest as string, `sha256:${createHash('sha256').update(m.bytes).digest('hex')}`);
  t.is(m.descriptor.size, m.bytes.length);
  t.is(m.descriptor.artifactType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.is(EMPTY_DESCRIPTOR.digest as string, `sha256:${createHash('sha256').update('{}').digest('hex')}`);
});

test('referrers index merge: keeps others, replaces the same digest, order independent of history', (t) => {
  const d = (hex: string, type = 'application/vnd.dev.sigstore.bundle.v0.3+json') => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex.repeat(64)}` as Digest, size: 10, artifactType: type });
  const first = mergeReferrersIndex(undefined, d('b'));
  const second = mergeReferrersIndex(first.index, d('a'));
  const other = mergeReferrersIndex(mergeReferrersIndex(undefined, d('a')).index, d('b'));
  t.deepEqual(second.bytes, other.bytes);
  t.deepEqual(second.index.manifests.map((m) => m.digest[7]), ['a', 'b']);
  const withSbom = mergeReferrersIndex(second.index, d('0', 'application/spdx+json'));
  t.deepEqual(withSbom.index.manifests.map((m) => m.artifactType), ['application/spdx+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle.v0.3+json']);
  t.is(mergeReferrersIndex(withSbom.index, d('a')).index.manifests.length, 3);
  t.true(second.bytes.toString().startsWith('{"manifests":['));
});
