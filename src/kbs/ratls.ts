/**
 * RA-TLS client certificates as Gramine 1.9 makes them (tools/sgx/ra-tls/ra_tls_attest.c) and
 * checks them (ra_tls_verify_common.c): a self-signed X.509 certificate whose key is bound to an
 * SGX quote carried in an extension. What this module implements, constant by constant:
 *
 * - Key: ECDSA on NIST P-384 (Gramine generates SECP384R1; its verifier also takes P-256).
 *   "The key's encoding" below is the DER SubjectPublicKeyInfo re-encoded from the parsed key
 *   (mbedtls_pk_write_pubkey_der; here KeyObject.export({ type: 'spki', format: 'der' })).
 * - TCG DICE "tagged evidence", OID 2.23.133.5.4.9 (content bytes 67 81 05 05 04 09), since
 *   Gramine 1.8, checked first. Its extnValue is CBOR:
 *     tag 60000 (TCG_DICE_TAGGED_EVIDENCE_TEE_QUOTE_CBOR_TAG) [ bstr quote, bstr claims ]
 *     claims = serialized CBOR map { "pubkey-hash": bstr(serialized [ uint hash-alg-id, bstr hash ]) }
 *     hash-alg-id per IANA "Named Information": 1 = SHA-256 (what Gramine writes), 7 = SHA-384, 8 = SHA-512
 *   Binding: REPORTDATA[0..32] == SHA-256(claims bytes), and hash == H(key's encoding).
 *   If this extension is present and fails, the certificate fails (no fall-back to the legacy one).
 * - Legacy Gramine quote extension, written since Gramine 1.0: Gramine passes the 11 bytes
 *   06 09 2A 86 48 86 F8 4D 8A 39 06 as the OID's *content* (its ra_tls.h says the first two are a
 *   mistake kept for compatibility), so the DER OID is 06 0B 06 09 2A 86 48 86 F8 4D 8A 39 06
 *   (dotted 0.6.9.42.840.113741.1337.6; meant was 1.2.840.113741.1337.6). extnValue = the raw quote.
 *   Binding: REPORTDATA[0..32] == SHA-256(key's encoding); Gramine checks these 32 bytes only
 *   (its attester writes zeros to bytes 32..64).
 * - Either extension must not be marked critical; its value is 128..8192 bytes (SGX_QUOTE_MAX_SIZE),
 *   the quote at least 436 bytes (sizeof(sgx_quote_t)).
 *
 * Stricter than Gramine, on purpose: the extensions are found by walking the DER (Gramine searches
 * the bytes with memmem), a repeated extension is refused, and a claims map without "pubkey-hash"
 * is refused (Gramine's verifier accepts one, which would leave the key unbound). Like Gramine,
 * the certificate's own signature and dates are not checked: the TLS handshake proves possession
 * of the key, and the quote's verification (quote.ts) proves the enclave.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { decodeCbor, type CborItem } from './cbor.ts';
import { DerError } from './der.ts';
import { MAX_QUOTE_SIZE, MIN_QUOTE_SIZE, isvReport } from './report.ts';
import { certificateExtensions, certificateSpki, type CertExtension } from './x509.ts';

/** Content bytes of the TCG DICE tagged-evidence OID 2.23.133.5.4.9. */
export const TCG_DICE_TAGGED_EVIDENCE_OID = Uint8Array.of(0x67, 0x81, 0x05, 0x05, 0x04, 0x09);
/** Content bytes of Gramine's legacy quote OID (see above for why they start with 06 09). */
export const LEGACY_GRAMINE_QUOTE_OID = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06);
/** CBOR tag of an SGX/TDX quote in TCG DICE tagged evidence. */
export const TEE_QUOTE_CBOR_TAG = 60000n;
/** The claim that binds the certificate key. */
export const PUBKEY_HASH_CLAIM = 'pubkey-hash';
/** IANA Named Information hash algorithm ids Gramine's verifier accepts. */
export const HASH_ALGORITHM_IDS: Readonly<Record<number, 'sha256' | 'sha384' | 'sha512'>> = { 1: 'sha256', 7: 'sha384', 8: 'sha512' };
/** Curves of the certificate key Gramine's verifier accepts (Node's names). */
export const RATLS_CURVES = ['secp384r1', 'prime256v1'] as const;

/** Which RA-TLS check failed: the certificate itself, its evidence, or the key binding. */
export type RaTlsCheck = 'certificate' | 'evidence' | 'report-data';

/** The quote of an RA-TLS certificate whose key it binds, or why not. */
export type RaTlsResult =
  | { ok: true; quote: Uint8Array; format: 'tcg-dice' | 'legacy' }
  | { ok: false; check: RaTlsCheck; reason: string; quote?: Uint8Array };

const fail = (check: RaTlsCheck, reason: string, quote?: Uint8Array): RaTlsResult => (quote === undefined ? { ok: false, check, reason } : { ok: false, check, reason, quote });

/** Extracts the SGX quote of an RA-TLS certificate (DER) and checks that it binds the certificate's key. */
export function extractRaTlsQuote(certDer: Uint8Array): RaTlsResult {
  let spki: Buffer;
  let extensions: CertExtension[];
  try {
    // Straight from the DER: X509Certificate would read the PEM PCK chain inside the quote (x509.ts).
    const key = createPublicKey({ key: Buffer.from(certificateSpki(certDer)), format: 'der', type: 'spki' });
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (key.asymmetricKeyType !== 'ec' || !(RATLS_CURVES as readonly string[]).includes(curve ?? '')) {
      return fail('certificate', `the certificate key is not ECDSA P-384 or P-256 (${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`})`);
    }
    spki = key.export({ type: 'spki', format: 'der' });
    extensions = certificateExtensions(certDer);
  } catch (err) {
    return fail('certificate', `the client certificate does not parse: ${err instanceof DerError ? err.message : (err as Error).message}`);
  }
  const find = (oid: Uint8Array) => extensions.filter((e) => Buffer.from(e.oid).equals(oid));
  const tcg = find(TCG_DICE_TAGGED_EVIDENCE_OID);
  const legacy = find(LEGACY_GRAMINE_QUOTE_OID);
  if (tcg.length > 1 || legacy.length > 1) return fail('evidence', 'an RA-TLS extension appears more than once');
  const ext = tcg[0] ?? legacy[0];
  if (ext === undefined) return fail('evidence', 'the client certificate carries no SGX quote (no TCG DICE tagged-evidence or legacy Gramine extension)');
  if (ext.critical) return fail('evidence', 'the RA-TLS extension is marked critical');
  if (ext.value.length < 128 || ext.value.length > MAX_QUOTE_SIZE) return fail('evidence', `the RA-TLS extension holds ${ext.value.length} bytes, outside 128..${MAX_QUOTE_SIZE}`);
  return tcg[0] !== undefined ? fromTaggedEvidence(tcg[0].value, spki) : fromLegacy(ext.value, spki);
}

function reportData32(quote: Uint8Array): Buffer {
  return Buffer.from(isvReport(quote)!.reportData, 'hex').subarray(0, 32);
}

function fromLegacy(quote: Uint8Array, spki: Buffer): RaTlsResult {
  if (quote.length < MIN_QUOTE_SIZE) return fail('evidence', `the quote has ${quote.length} bytes, fewer than ${MIN_QUOTE_SIZE}`);
  if (!reportData32(quote).equals(createHash('sha256').update(spki).digest())) {
    return fail('report-data', 'REPORTDATA[0..32] is not the SHA-256 of the certificate key (legacy RA-TLS binding)', quote);
  }
  return { ok: true, quote: Uint8Array.from(quote), format: 'legacy' };
}

function fromTaggedEvidence(value: Uint8Array, spki: Buffer): RaTlsResult {
  let evidence: CborItem;
  try {
    evidence = decodeCbor(value);
  } catch (err) {
    return fail('evidence', `tagged evidence is not CBOR: ${(err as Error).message}`);
  }
  if (evidence.type !== 'tag' || evidence.tag !== TEE_QUOTE_CBOR_TAG) return fail('evidence', `tagged evidence is not CBOR tag ${TEE_QUOTE_CBOR_TAG}`);
  const arr = evidence.item;
  if (arr.type !== 'array' || arr.items.length !== 2 || arr.items[0]?.type !== 'bytes' || arr.items[1]?.type !== 'bytes') {
    return fail('evidence', 'tagged evidence is not [ bstr quote, bstr claims ]');
  }
  const quote = Uint8Array.from(arr.items[0].value);
  const claims = arr.items[1].value;
  if (quote.length < MIN_QUOTE_SIZE) return fail('evidence', `the quote has ${quote.length} bytes, fewer than ${MIN_QUOTE_SIZE}`);
  if (claims.length === 0) return fail('evidence', 'the claims are empty');
  if (!reportData32(quote).equals(createHash('sha256').update(claims).digest())) {
    return fail('report-data', 'REPORTDATA[0..32] is not the SHA-256 of the evidence claims', quote);
  }
  let map: CborItem;
  try {
    map = decodeCbor(claims);
  } catch (err) {
    return fail('evidence', `the claims are not CBOR: ${(err as Error).message}`);
  }
  if (map.type !== 'map' || map.entries.length === 0) return fail('evidence', 'the claims are not a non-empty CBOR map');
  let hashEntry: Uint8Array | undefined;
  for (const [k, v] of map.entries) {
    if (k.type !== 'text' || k.value === '') return fail('evidence', 'a claim name is not a non-empty text string');
    if (k.value !== PUBKEY_HASH_CLAIM) continue; // other claims (e.g. "nonce") are ignored, as Gramine does
    if (v.type !== 'bytes' || v.value.length === 0) return fail('evidence', `claim "${PUBKEY_HASH_CLAIM}" is not a non-empty byte string`);
    hashEntry = v.value;
  }
  if (hashEntry === undefined) return fail('evidence', `the claims have no "${PUBKEY_HASH_CLAIM}": the certificate key is not bound`, quote);
  let entry: CborItem;
  try {
    entry = decodeCbor(hashEntry);
  } catch (err) {
    return fail('evidence', `"${PUBKEY_HASH_CLAIM}" is not CBOR: ${(err as Error).message}`);
  }
  if (entry.type !== 'array' || entry.items.length !== 2 || entry.items[0]?.type !== 'uint' || entry.items[1]?.type !== 'bytes') {
    return fail('evidence', `"${PUBKEY_HASH_CLAIM}" is not [ uint hash-alg-id, bstr hash ]`);
  }
  const algorithm = entry.items[0].value <= 255n ? HASH_ALGORITHM_IDS[Number(entry.items[0].value)] : undefined;
  if (algorithm === undefined) return fail('evidence', `hash algorithm id ${entry.items[0].value} is not SHA-256, SHA-384 or SHA-512`);
  const expected = createHash(algorithm).update(spki).digest();
  const hash = entry.items[1].value;
  if (hash.length !== expected.length) return fail('evidence', `the ${algorithm} key hash has ${hash.length} bytes`);
  if (!expected.equals(hash)) return fail('report-data', `"${PUBKEY_HASH_CLAIM}" is not the ${algorithm} of the certificate key`, quote);
  return { ok: true, quote, format: 'tcg-dice' };
}
