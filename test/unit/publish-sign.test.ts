/**
 * Signing statements into sigstore bundles and verifying them: local P-256 keys, keyless against
 * the local Fulcio/Rekor doubles (real certificates, SCTs and log signatures), identity tokens.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../../src/image/types.ts';
import {
  ENCLAVE_PREDICATE_TYPE,
  buildStatement,
  bundleVerifier,
  generateSigstoreKey,
  identityTokenProvider,
  imageSubject,
  loadSigstorePrivateKey,
  loadSigstorePublicKey,
  signStatement,
  statementBytes,
} from '../../src/publish/index.ts';
import { TEST_ISSUER, startSigstoreDoubles, type SigstoreDoubles } from '../helpers/sigstore-services.ts';

let doubles: SigstoreDoubles;
let dir: string;
const statement = buildStatement(imageSubject('127.0.0.1:5000/app', `sha256:${'1'.repeat(64)}` as Digest), ENCLAVE_PREDICATE_TYPE, { mrenclave: 'e'.repeat(64), mrsigner: 'f'.repeat(64), encryptedPaths: [], releasePolicyDigests: {} });

test.before(async () => {
  doubles = await startSigstoreDoubles();
  dir = await mkdtemp(join(tmpdir(), 'cconv-publish-'));
});
test.after.always(async () => {
  await doubles?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const keyless = (token: string) => ({ kind: 'keyless' as const, identityToken: identityTokenProvider({ SIGSTORE_ID_TOKEN: token }), fulcioUrl: doubles.url, rekorUrl: doubles.url, retries: 0 });
const keylessTrust = (identity: string, issuer = TEST_ISSUER) => ({ kind: 'keyless' as const, certificateIdentity: identity, certificateIssuer: issuer, trustedRoot: doubles.trustedRoot });

test('keygen: P-256 PKCS#8 at mode 0600 and SPKI .pub; no overwrite without force', async (t) => {
  const path = join(dir, 'k.pem');
  const files = await generateSigstoreKey(path);
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.regex(await readFile(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  t.regex(await readFile(files.publicKeyPath, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
  t.regex(files.keyId, /^[0-9a-f]{64}$/);
  const priv = await loadSigstorePrivateKey(path);
  const pub = await loadSigstorePublicKey(files.publicKeyPath);
  t.is(priv.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.deepEqual((await loadSigstorePublicKey(path)).export({ type: 'spki', format: 'der' }), pub.export({ type: 'spki', format: 'der' }));
  await t.throwsAsync(generateSigstoreKey(path), { code: 'E_IO' });
  await generateSigstoreKey(path, { force: true });
  const rsa = join(dir, 'rsa.pem');
  await writeFile(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await t.throwsAsync(loadSigstorePrivateKey(rsa), { code: 'E_KEY_INVALID' });
  await t.throwsAsync(loadSigstorePrivateKey(join(dir, 'missing.pem')), { code: 'E_IO' });
});

test('key-based bundle: v0.3 DSSE with a public-key hint and no tlog; verifies only with that key', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signed = await signStatement(statement, { kind: 'key', privateKey });
  const json = JSON.parse(signed.bytes.toString('utf8'));
  t.is(json.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.is(json.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  t.deepEqual(Buffer.from(json.dsseEnvelope.payload, 'base64'), statementBytes(statement));
  t.regex(json.verificationMaterial.publicKey.hint, /^[0-9a-f]{64}$/);
  t.deepEqual(json.verificationMaterial.tlogEntries ?? [], []); // bundle JSON omits empty lists
  const ok = bundleVerifier({ kind: 'key', publicKey })(json);
  t.deepEqual(ok.statement, JSON.parse(statementBytes(statement).toString()));
  t.is(ok.signer.kind, 'key');

  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  t.throws(() => bundleVerifier({ kind: 'key', publicKey: other })(json), { code: 'E_SIGNATURE_INVALID' });
  const tampered = structuredClone(json);
  const payload = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString());
  payload.predicate.mrenclave = '0'.repeat(64);
  tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64');
  t.throws(() => bundleVerifier({ kind: 'key', publicKey })(tampered), { code: 'E_SIGNATURE_INVALID', message: /SIGNATURE_ERROR/ });
  t.throws(() => bundleVerifier({ kind: 'key', publicKey })({ mediaType: 'nonsense' }), { code: 'E_SIGNATURE_INVALID' });
});

test('keyless: Fulcio certificate for the token identity, Rekor entry; full verification under the trusted root', async (t) => {
  const signed = await signStatement(statement, keyless(doubles.token('dev@cconv.test')));
  const json = JSON.parse(signed.bytes.toString('utf8'));
  t.truthy(json.verificationMaterial.certificate.rawBytes);
  t.is(json.verificationMaterial.tlogEntries.length, 1);
  t.is(json.verificationMaterial.tlogEntries[0].kindVersion.kind, 'dsse');
  t.truthy(json.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp);
  t.truthy(json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope);
  const ok = bundleVerifier(keylessTrust('dev@cconv.test'))(json);
  t.deepEqual(ok.signer, { kind: 'keyless', identity: 'dev@cconv.test', issuer: TEST_ISSUER });
  t.throws(() => bundleVerifier(keylessTrust('eve@cconv.test'))(json), { code: 'E_SIGNATURE_INVALID', message: /UNTRUSTED_SIGNER_ERROR/ });
  t.throws(() => bundleVerifier(keylessTrust('dev@cconv.test', 'https://accounts.example'))(json), { code: 'E_SIGNATURE_INVALID', message: /UNTRUSTED_SIGNER_ERROR/ });
  // A root that does not hold this CA and log: the chain cannot be built.
  const other = await startSigstoreDoubles();
  try {
    t.throws(() => bundleVerifier({ ...keylessTrust('dev@cconv.test'), trustedRoot: other.trustedRoot })(json), { code: 'E_SIGNATURE_INVALID' });
  } finally {
    await other.stop();
  }
  // A key-based policy refuses a certificate-signed bundle.
  t.throws(() => bundleVerifier({ kind: 'key', publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey })(json), { code: 'E_SIGNATURE_INVALID' });
});

test('keyless failures: a token from another issuer is refused by Fulcio (E_AUTH), without the token in the message', async (t) => {
  const forged = doubles.token('dev@cconv.test', { issuer: 'https://evil.example' });
  const err = await t.throwsAsync(signStatement(statement, keyless(forged)), { code: 'E_AUTH' });
  t.false(err!.message.includes(forged));
  t.false(JSON.stringify(err!.cause ?? '').includes(forged));
  await t.throwsAsync(signStatement(statement, { ...keyless(forged), fulcioUrl: 'http://example.com' }), { code: 'E_USAGE' });
  await t.throwsAsync(signStatement(statement, { ...keyless(forged), identityToken: identityTokenProvider({}) }), { code: 'E_AUTH', message: /SIGSTORE_ID_TOKEN is not set/ });
});

test('identity tokens: env var, a named variable, the GitHub Actions endpoint, and clear errors', async (t) => {
  const token = doubles.token('dev@cconv.test');
  t.is(await identityTokenProvider({ SIGSTORE_ID_TOKEN: token })(), token);
  t.is(await identityTokenProvider({ MY_TOKEN: token }, { tokenEnv: 'MY_TOKEN' })(), token);
  const fromActions = await identityTokenProvider({ ACTIONS_ID_TOKEN_REQUEST_URL: doubles.actionsRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: doubles.actionsRequestToken })();
  const claims = JSON.parse(Buffer.from(fromActions.split('.')[1]!, 'base64url').toString());
  t.is(claims.aud, 'sigstore');
  t.is(claims.sub, doubles.actionsIdentity);
  const denied = await t.throwsAsync(identityTokenProvider({ ACTIONS_ID_TOKEN_REQUEST_URL: doubles.actionsRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong-secret' })(), { code: 'E_AUTH' });
  t.false(denied!.message.includes('wrong-secret'));
  await t.throwsAsync(identityTokenProvider({})(), { code: 'E_AUTH', message: /SIGSTORE_ID_TOKEN/ });
  const notJwt = await t.throwsAsync(identityTokenProvider({ SIGSTORE_ID_TOKEN: 'secret-not-a-jwt' })(), { code: 'E_AUTH' });
  t.false(notJwt!.message.includes('secret-not-a-jwt'));
  const unverified = `e30.${Buffer.from(JSON.stringify({ iss: TEST_ISSUER, sub: 'x', email: 'a@b', email_verified: false })).toString('base64url')}.c2ln`;
  await t.throwsAsync(identityTokenProvider({ SIGSTORE_ID_TOKEN: unverified })(), { code: 'E_AUTH', message: /email_verified/ });
});
