/**
 * Attestations on a real registry (distribution 2.8, TLS + htpasswd, no referrers API: the tag
 * schema fallback is exercised): push images carrying the enclave-identity labels, attest them
 * (key-based and keyless against the local Fulcio/Rekor doubles), read the referrers back with
 * skopeo, verify, and check that tampering, a bundle for another digest, a wrong key and a
 * contradicting enclave identity each fail with their code. Also the `cconv attest` commands.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Digest } from '../../src/image/types.ts';
import {
  ENCLAVE_PREDICATE_TYPE,
  SLSA_PROVENANCE_TYPE,
  attestImage,
  buildStatement,
  generateSigstoreKey,
  imageSubject,
  pushReferrer,
  signStatement,
  verifyAttestations,
} from '../../src/publish/index.ts';
import { copyImage } from '../../src/transports/copy.ts';
import { OciLayoutSource } from '../../src/transports/oci-layout.ts';
import { RegistryClient, RegistryDestination, type RegistryOptions } from '../../src/transports/registry/index.ts';
import { cli } from '../helpers/cli.ts';
import { buildLayer, writeOciLayout, type OciLayoutResult } from '../helpers/oci-builder.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { TEST_ISSUER, startSigstoreDoubles, type SigstoreDoubles } from '../helpers/sigstore-services.ts';

const exec = promisify(execFile);
const MRENCLAVE = 'e'.repeat(64);
const MRSIGNER = 'f'.repeat(64);
let registry: TestRegistry;
let doubles: SigstoreDoubles;
let work: string;
let layout: OciLayoutResult;
let options: RegistryOptions;
let key: { privateKey: KeyObject; publicKey: KeyObject };

test.before(async () => {
  [registry, doubles] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startSigstoreDoubles()]);
  work = await mkdtemp(join(tmpdir(), 'cconv-attest-'));
  const layer = await buildLayer([{ name: 'app/run', content: 'enclave app\n' }], { compression: 'gzip' });
  const labels = { 'org.cconv.sgx.mrenclave': MRENCLAVE, 'org.cconv.sgx.mrsigner': MRSIGNER, 'org.cconv.runtime': 'gramine', 'org.cconv.runtime.version': '1.9' };
  layout = await writeOciLayout(join(work, 'layout'), [
    { layers: [layer], tag: 'app', config: { config: { Cmd: ['/app/run'], Labels: labels } } },
    { layers: [layer], tag: 'other', config: { config: { Cmd: ['/app/other'], Labels: labels } } },
  ]);
  options = { caFile: registry.caFile, credentials: { username: registry.username, password: registry.password }, retries: 1, retryBaseMs: 5 };
  key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
});

test.after.always(async () => {
  await registry?.stop();
  await doubles?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Pushes layout image `tag` to `repository:v1`; returns its reference and digest. */
async function push(repository: string, tag = 'app'): Promise<{ ref: string; digest: Digest }> {
  const dest = new RegistryDestination({ transport: 'docker', registry: registry.host, repository, tag: 'v1' }, options);
  const result = await copyImage(new OciLayoutSource({ transport: 'oci', dir: join(work, 'layout'), tag }), dest);
  return { ref: `docker://${registry.host}/${repository}:v1`, digest: result.manifestDigest };
}

async function skopeoRaw(ref: string): Promise<Buffer> {
  const { stdout } = await exec('skopeo', ['--insecure-policy', 'inspect', '--raw', '--cert-dir', registry.certDir, '--creds', `${registry.username}:${registry.password}`, ref], { encoding: 'buffer' });
  return stdout;
}

const keyTrust = () => ({ kind: 'key' as const, publicKey: key.publicKey });

test('key-based: attest, skopeo reads the fallback-tag index and the artifact, verify passes', async (t) => {
  const { ref, digest } = await push('cconv/app');
  const provenance = { source: { reference: 'docker-daemon:app:1', digest: `sha256:${'a'.repeat(64)}` as Digest }, sourceDateEpoch: 1700000000 };
  const result = await attestImage(ref, { signing: { kind: 'key', privateKey: key.privateKey }, registry: options, provenance });
  t.is(result.digest, digest);
  t.deepEqual(result.attestations.map((a) => [a.predicateType, a.index]), [[ENCLAVE_PREDICATE_TYPE, 'tag'], [SLSA_PROVENANCE_TYPE, 'tag']]);

  const index = JSON.parse((await skopeoRaw(`docker://${registry.host}/cconv/app:sha256-${digest.slice(7)}`)).toString());
  t.is(index.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.deepEqual(index.manifests.map((m: { digest: string }) => m.digest).sort(), result.attestations.map((a) => a.referrer).sort());
  const enclaveRef = result.attestations.find((a) => a.predicateType === ENCLAVE_PREDICATE_TYPE)!.referrer;
  const artifact = JSON.parse((await skopeoRaw(`docker://${registry.host}/cconv/app@${enclaveRef}`)).toString());
  t.is(artifact.artifactType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.is(artifact.subject.digest, digest);
  t.is(artifact.annotations['dev.sigstore.bundle.predicateType'], ENCLAVE_PREDICATE_TYPE);
  t.is(artifact.layers[0].digest, result.attestations.find((a) => a.predicateType === ENCLAVE_PREDICATE_TYPE)!.bundleDigest);

  const verified = await verifyAttestations(ref, { trust: keyTrust(), registry: options, expect: { mrenclave: MRENCLAVE, mrsigner: MRSIGNER }, require: [ENCLAVE_PREDICATE_TYPE, SLSA_PROVENANCE_TYPE] });
  t.is(verified.source, 'tag');
  t.is(verified.verified.length, 2);
  t.deepEqual(verified.rejected, []);
  t.is(verified.enclave?.mrenclave, MRENCLAVE);
  t.deepEqual(verified.checked, ['expected mrenclave', 'expected mrsigner', 'label org.cconv.sgx.mrenclave', 'label org.cconv.sgx.mrsigner']);
  await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options, expect: { mrenclave: '0'.repeat(64) } }), { code: 'E_ATTESTATION', message: /not the expected/ });
  // Attesting again keeps the first entries in the index (read-modify-write).
  await attestImage(ref, { signing: { kind: 'key', privateKey: key.privateKey }, registry: options });
  const again = JSON.parse((await skopeoRaw(`docker://${registry.host}/cconv/app:sha256-${digest.slice(7)}`)).toString());
  t.is(again.manifests.length, 3);
});

test('a wrong key fails; an image with no attestations fails', async (t) => {
  const { ref } = await push('cconv/wrongkey');
  await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options }), { code: 'E_ATTESTATION', message: /no referrers/ });
  await attestImage(ref, { signing: { kind: 'key', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }, registry: options });
  await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options }), { code: 'E_SIGNATURE_INVALID', message: /SIGNATURE_ERROR/ });
});

test('a tampered predicate fails; a valid attestation next to it still passes', async (t) => {
  const { ref, digest } = await push('cconv/tampered');
  const client = new RegistryClient(registry.host, options);
  try {
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: layout.images[0]!.manifestBytes.length };
    const statement = buildStatement(imageSubject(`${registry.host}/cconv/tampered`, digest), ENCLAVE_PREDICATE_TYPE, { mrenclave: MRENCLAVE, mrsigner: MRSIGNER, encryptedPaths: [], releasePolicyDigests: {} });
    const signed = await signStatement(statement, { kind: 'key', privateKey: key.privateKey });
    const bundle = JSON.parse(signed.bytes.toString());
    const payload = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
    payload.predicate.debug = true;
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
    await pushReferrer(client, 'cconv/tampered', subject, Buffer.from(JSON.stringify(bundle)), ENCLAVE_PREDICATE_TYPE);
    const err = await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options }), { code: 'E_SIGNATURE_INVALID' });
    t.regex(err!.message, /does not verify/);
    await pushReferrer(client, 'cconv/tampered', subject, signed.bytes, ENCLAVE_PREDICATE_TYPE);
    const ok = await verifyAttestations(ref, { trust: keyTrust(), registry: options });
    t.is(ok.verified.length, 1);
    t.is(ok.rejected.length, 1);
    t.is(ok.rejected[0]!.code, 'E_SIGNATURE_INVALID');
  } finally {
    client.close();
  }
});

test('a bundle signed for another digest fails; a signed identity contradicting the labels fails', async (t) => {
  const { ref, digest } = await push('cconv/moved');
  const { digest: otherDigest } = await push('cconv/moved-other', 'other');
  const client = new RegistryClient(registry.host, options);
  try {
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: layout.images[0]!.manifestBytes.length };
    const predicate = { mrenclave: MRENCLAVE, mrsigner: MRSIGNER, encryptedPaths: [], releasePolicyDigests: {} };
    const forOther = await signStatement(buildStatement(imageSubject(`${registry.host}/cconv/moved`, otherDigest), ENCLAVE_PREDICATE_TYPE, predicate), { kind: 'key', privateKey: key.privateKey });
    await pushReferrer(client, 'cconv/moved', subject, forOther.bytes, ENCLAVE_PREDICATE_TYPE);
    await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options }), { code: 'E_ATTESTATION', message: new RegExp(`not this image \\(${digest}\\)`) });
    const contradicting = await signStatement(buildStatement(imageSubject(`${registry.host}/cconv/moved`, digest), ENCLAVE_PREDICATE_TYPE, { ...predicate, mrenclave: '0'.repeat(64) }), { kind: 'key', privateKey: key.privateKey });
    await pushReferrer(client, 'cconv/moved', subject, contradicting.bytes, ENCLAVE_PREDICATE_TYPE);
    await t.throwsAsync(verifyAttestations(ref, { trust: keyTrust(), registry: options }), { code: 'E_ATTESTATION', message: /differs from the image label/ });
  } finally {
    client.close();
  }
});

test('keyless end to end: Fulcio certificate + Rekor entry stored as a referrer, verified by identity and issuer', async (t) => {
  const { ref } = await push('cconv/keyless');
  const env = { SIGSTORE_ID_TOKEN: doubles.token('ci@cconv.test') };
  const { identityTokenProvider } = await import('../../src/publish/index.ts');
  const result = await attestImage(ref, { signing: { kind: 'keyless', identityToken: identityTokenProvider(env), fulcioUrl: doubles.url, rekorUrl: doubles.url, retries: 0 }, registry: options });
  t.regex(result.attestations[0]!.logIndex ?? '', /^\d+$/);
  const trust = { kind: 'keyless' as const, certificateIdentity: 'ci@cconv.test', certificateIssuer: TEST_ISSUER, trustedRoot: doubles.trustedRoot };
  const verified = await verifyAttestations(ref, { trust, registry: options });
  t.deepEqual(verified.verified[0]!.signer, { kind: 'keyless', identity: 'ci@cconv.test', issuer: TEST_ISSUER });
  await t.throwsAsync(verifyAttestations(ref, { trust: { ...trust, certificateIdentity: 'mallory@cconv.test' }, registry: options }), { code: 'E_SIGNATURE_INVALID', message: /UNTRUSTED_SIGNER_ERROR/ });
});

test('cconv attest keygen / sign --key / verify, and keyless sign through the CLI', async (t) => {
  const { ref } = await push('cconv/cli');
  const keyPath = join(work, 'attest.pem');
  const gen = await cli(['attest', 'keygen', keyPath]);
  t.is(gen.status, 0, gen.stderr);
  const reg = ['--cert-file', registry.caFile, '--username', registry.username, '--password-stdin'];
  const signed = await cli(['attest', 'sign', ref, '--key', keyPath, ...reg], {}, `${registry.password}\n`);
  t.is(signed.status, 0, signed.stderr);
  t.regex(signed.stdout, new RegExp(`MRENCLAVE: ${MRENCLAVE}`));
  const ok = await cli(['--json', 'attest', 'verify', ref, '--key', `${keyPath}.pub`, '--expect-mrsigner', MRSIGNER, ...reg], {}, registry.password);
  t.is(ok.status, 0, ok.stderr);
  t.is(JSON.parse(ok.stdout).enclave.mrsigner, MRSIGNER);
  const other = join(work, 'other.pem');
  await generateSigstoreKey(other);
  const bad = await cli(['attest', 'verify', ref, '--key', other, ...reg], {}, registry.password);
  t.is(bad.status, 6);
  t.regex(bad.stderr, /E_SIGNATURE_INVALID/);
  const usage = await cli(['attest', 'sign', ref, ...reg], {}, registry.password);
  t.is(usage.status, 2);
  const notRegistry = await cli(['attest', 'verify', 'oci:/tmp/x:1', '--key', keyPath]);
  t.is(notRegistry.status, 2);

  const { ref: ref2 } = await push('cconv/cli-keyless');
  const env = { CCONV_TOKEN: doubles.token('ci@cconv.test') };
  const keylessSign = await cli(['attest', 'sign', ref2, '--keyless', '--fulcio-url', doubles.url, '--rekor-url', doubles.url, '--identity-token-env', 'CCONV_TOKEN', ...reg], env, registry.password);
  t.is(keylessSign.status, 0, keylessSign.stderr);
  t.false(keylessSign.stdout.includes(env.CCONV_TOKEN) || keylessSign.stderr.includes(env.CCONV_TOKEN));
  const rootFile = join(work, 'trusted_root.json');
  await (await import('node:fs/promises')).writeFile(rootFile, JSON.stringify(doubles.trustedRoot));
  const keylessVerify = await cli(['attest', 'verify', ref2, '--certificate-identity', 'ci@cconv.test', '--certificate-oidc-issuer', TEST_ISSUER, '--trusted-root', rootFile, ...reg], {}, registry.password);
  t.is(keylessVerify.status, 0, keylessVerify.stderr);
  t.regex(keylessVerify.stdout, /ok {2}https:\/\/cconv\.dev\/attestation\/sgx-enclave\/v1 .* ci@cconv\.test/);
});
