// RA-TLS certificates (src/kbs/ratls.ts) and Gramine's secret-provisioning messages
// (src/kbs/protocol.ts): the constants byte for byte as Gramine 1.9's tools/sgx/ra-tls/ defines
// them, the key binding of both extensions, and refusals of what Gramine refuses (or should).
import test from 'ava';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  ENCRYPTED_FILES_KEY_SIZE,
  LEGACY_GRAMINE_QUOTE_OID,
  REQUEST_BYTES,
  RESPONSE_HEADER_SIZE,
  RESPONSE_PREFIX_BYTES,
  TCG_DICE_TAGGED_EVIDENCE_OID,
  extractRaTlsQuote,
  isRequest,
  parseResponseHeader,
  responseHeader,
} from '../../src/kbs/index.ts';
import { oidToString } from '../../src/kbs/der.ts';
import { cbor, certificate, der, extension, name } from '../helpers/kbs-der.ts';
import { raTlsCertificate } from '../helpers/kbs-enclave.ts';
import { createTestPki } from '../helpers/kbs-pki.ts';
import { ENCLAVE, createTestPlatform } from '../helpers/kbs-quote.ts';

const platform = createTestPlatform(createTestPki({ now: Math.floor(Date.now() / 1000) }));
const reportDataOf = (quote: Uint8Array) => Buffer.from(quote).subarray(48 + 320, 48 + 384);

test('protocol constants are Gramine 1.9 secret_prov.h byte for byte', (t) => {
  // SECRET_PROVISION_REQUEST with its NUL: sizeof() = 35, what the client sends and the server reads.
  t.is(REQUEST_BYTES.toString('latin1'), 'SECRET_PROVISION_RA_TLS_REQUEST_V1\0');
  t.is(REQUEST_BYTES.length, 35);
  t.is(RESPONSE_PREFIX_BYTES.toString('latin1'), 'SECRET_PROVISION_RA_TLS_RESPONSE_V1:\0');
  t.is(RESPONSE_PREFIX_BYTES.length, 37);
  t.is(RESPONSE_HEADER_SIZE, 41);
  t.is(ENCRYPTED_FILES_KEY_SIZE, 16);
  // A 16-byte key: prefix, NUL, htonl(16).
  t.is(responseHeader(16).toString('hex'), Buffer.from('SECRET_PROVISION_RA_TLS_RESPONSE_V1:\0').toString('hex') + '00000010');
  t.is(responseHeader(0x01020304).subarray(37).toString('hex'), '01020304');
  t.is(parseResponseHeader(responseHeader(16)), 16);
  t.is(parseResponseHeader(Buffer.concat([RESPONSE_PREFIX_BYTES, Buffer.from('80000000', 'hex')])), undefined, 'a size above INT_MAX is refused, as the client does');
  t.is(parseResponseHeader(Buffer.concat([Buffer.from('SECRET_PROVISION_RA_TLS_RESPONSE_V2:\0'), Buffer.alloc(4)])), undefined);
  t.throws(() => responseHeader(0));
  t.true(isRequest(Buffer.from('SECRET_PROVISION_RA_TLS_REQUEST_V1\0')));
  t.false(isRequest(Buffer.from('SECRET_PROVISION_RA_TLS_REQUEST_V1')), 'without its NUL');
  t.false(isRequest(Buffer.from('SECRET_PROVISION_RA_TLS_REQUEST_V2\0')));
});

test('extension OIDs: TCG DICE tagged evidence 2.23.133.5.4.9 and Gramine’s legacy OID bytes', (t) => {
  t.is(Buffer.from(TCG_DICE_TAGGED_EVIDENCE_OID).toString('hex'), '678105050409');
  t.is(oidToString(TCG_DICE_TAGGED_EVIDENCE_OID), '2.23.133.5.4.9');
  // ra_tls.h NON_STANDARD_INTEL_SGX_QUOTE_OID, passed to mbedTLS as the OID's content.
  t.is(Buffer.from(LEGACY_GRAMINE_QUOTE_OID).toString('hex'), '06092a864886f84d8a3906');
  t.is(oidToString(LEGACY_GRAMINE_QUOTE_OID), '0.6.9.42.840.113741.1337.6');
});

test('both extensions (as Gramine 1.9 writes): the tagged evidence is used and binds the key', (t) => {
  const { certDer, key } = raTlsCertificate(platform, ENCLAVE);
  const r = extractRaTlsQuote(certDer);
  t.true(r.ok, JSON.stringify(r));
  if (!r.ok) return;
  t.is(r.format, 'tcg-dice');
  // Report-data layout: REPORTDATA[0..32] = SHA-256 of the serialized claims map, which is
  // a1 (map, 1 pair) 6b "pubkey-hash" (text, 11) 58 24 (bytes, 36) containing
  // 82 (array, 2) 01 (uint 1 = SHA-256) 58 20 (bytes, 32) SHA-256(SubjectPublicKeyInfo).
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const claims = Buffer.concat([Buffer.of(0xa1), Buffer.from([0x6b]), Buffer.from('pubkey-hash'), Buffer.of(0x58, 0x24, 0x82, 0x01, 0x58, 0x20), createHash('sha256').update(spki).digest()]);
  t.deepEqual(reportDataOf(r.quote).subarray(0, 32), createHash('sha256').update(claims).digest());
});

test('the certificate is read from its DER, not from the PEM PCK chain inside its quote', async (t) => {
  const { X509Certificate } = await import('node:crypto');
  const { x509FromDer } = await import('../../src/kbs/x509.ts');
  const { certDer } = raTlsCertificate(platform, ENCLAVE);
  // node:crypto looks for PEM first: it reads a PCK certificate embedded in the quote, or fails on it.
  let naive: string;
  try {
    naive = new X509Certificate(certDer).subject;
  } catch (err) {
    naive = `throws: ${(err as Error).message}`;
  }
  t.notRegex(naive, /CN=RATLS/);
  t.regex(x509FromDer(certDer).subject, /CN=RATLS/);
  // A DER whose base64 fills its last 64-character line exactly (a blank line in the PEM broke it):
  // pad an extension until the DER is a multiple of 48 bytes.
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const n = name('exact');
  let exact: Buffer = Buffer.alloc(0);
  for (let pad = 0; pad < 200; pad++) {
    exact = certificate({ serial: 1, issuer: n, subject: n, notBefore: 0, notAfter: 2e9, publicKey: ec.publicKey, signer: ec.privateKey, extensions: [extension({ oid: '1.3.6.1.4.1.99999.1', value: Buffer.alloc(pad) })] });
    if (exact.length % 48 === 0) break;
  }
  t.is(exact.toString('base64').length % 64, 0);
  t.regex(x509FromDer(exact).subject, /CN=exact/);
});

test('legacy extension only (Gramine before 1.8): REPORTDATA[0..32] = SHA-256 of the SubjectPublicKeyInfo', (t) => {
  const { certDer, key } = raTlsCertificate(platform, ENCLAVE, { evidence: 'legacy' });
  const r = extractRaTlsQuote(certDer);
  t.like(r, { ok: true, format: 'legacy' });
  if (!r.ok) return;
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  t.deepEqual(reportDataOf(r.quote).subarray(0, 32), createHash('sha256').update(spki).digest());
  t.deepEqual(reportDataOf(r.quote).subarray(32), Buffer.alloc(32));
});

test('a quote that binds another key is a report-data refusal, in either format', (t) => {
  for (const evidence of ['both', 'tcg-dice', 'legacy'] as const) {
    const r = extractRaTlsQuote(raTlsCertificate(platform, ENCLAVE, { evidence, bindOtherKey: true }).certDer);
    t.like(r, { ok: false, check: 'report-data' }, evidence);
  }
});

test('no quote, no pubkey-hash claim, or an unsuitable key: refused with the check named', (t) => {
  const none = extractRaTlsQuote(raTlsCertificate(platform, ENCLAVE, { evidence: 'none' }).certDer);
  t.like(none, { ok: false, check: 'evidence' });
  t.regex(none.ok ? '' : none.reason, /carries no SGX quote/);
  t.like(extractRaTlsQuote(raTlsCertificate(platform, ENCLAVE, { evidence: 'tcg-dice', noPubkeyHash: true }).certDer), { ok: false, check: 'evidence' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const n = name('RATLS');
  const rsaCert = certificate({ serial: 1, issuer: n, subject: n, notBefore: 0, notAfter: 2e9, publicKey: rsa.publicKey, signer: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey });
  t.like(extractRaTlsQuote(rsaCert), { ok: false, check: 'certificate' });
  t.like(extractRaTlsQuote(Buffer.from('not a certificate')), { ok: false, check: 'certificate' });
});

test('critical, repeated, malformed or oversized evidence is refused', (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const n = name('RATLS');
  const make = (...exts: Buffer[]) => certificate({ serial: 1, issuer: n, subject: n, notBefore: 0, notAfter: 2e9, publicKey: ec.publicKey, signer: ec.privateKey, extensions: exts });
  const quote = platform.quote(ENCLAVE, Buffer.alloc(64));
  const evidence = (item: Buffer) => extension({ oid: TCG_DICE_TAGGED_EVIDENCE_OID, value: item });
  t.like(extractRaTlsQuote(make(extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: quote, critical: true }))), { ok: false, check: 'evidence' });
  t.like(extractRaTlsQuote(make(extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: quote }), extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: quote }))), { ok: false, check: 'evidence' });
  t.like(extractRaTlsQuote(make(extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: Buffer.alloc(9000) }))), { ok: false, check: 'evidence' });
  t.like(extractRaTlsQuote(make(extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: quote.subarray(0, 300) }))), { ok: false, check: 'evidence' });
  // An explicit critical=FALSE is accepted, as Gramine does; the binding then decides.
  t.like(extractRaTlsQuote(make(extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: quote }, true))), { ok: false, check: 'report-data' });
  t.like(extractRaTlsQuote(make(evidence(cbor.tag(60001, cbor.array(cbor.bytes(quote), cbor.bytes(Buffer.of(0xa0))))))), { ok: false, check: 'evidence' });
  t.like(extractRaTlsQuote(make(evidence(cbor.tag(60000, cbor.array(cbor.bytes(quote)))))), { ok: false, check: 'evidence' });
  t.like(extractRaTlsQuote(make(evidence(Buffer.concat([cbor.tag(60000, cbor.array(cbor.bytes(quote), cbor.bytes(Buffer.of(0xa0)))), Buffer.of(0)])))), { ok: false, check: 'evidence' }, 'trailing bytes');
  t.like(extractRaTlsQuote(make(evidence(Buffer.concat([Buffer.of(0xd9, 0xea, 0x60, 0x9f), Buffer.alloc(200)])))), { ok: false, check: 'evidence' }, 'indefinite array');
  // Truncating the certificate anywhere never throws, only refuses.
  const good = raTlsCertificate(platform, ENCLAVE).certDer;
  for (let cut = 0; cut < good.length; cut += 97) t.like(extractRaTlsQuote(good.subarray(0, cut)), { ok: false });
});

test('the DER walker refuses non-minimal and indefinite lengths', async (t) => {
  const { readTlv, DerError } = await import('../../src/kbs/der.ts');
  t.throws(() => readTlv(Buffer.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 0), { instanceOf: DerError });
  t.throws(() => readTlv(Buffer.of(0x30, 0x80, 0, 0), 0), { instanceOf: DerError });
  t.throws(() => readTlv(Buffer.of(0x04, 0x82, 0x01), 0), { instanceOf: DerError });
  t.deepEqual(readTlv(der.octets(Buffer.alloc(200)), 0), { tag: 4, offset: 0, start: 3, end: 203 });
});
