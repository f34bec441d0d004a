/**
 * A test enclave client doing what Gramine 1.9's secret_prov_attest.c does (no SGX: its quote
 * comes from the test platform of kbs-quote.ts): make an ECDSA P-384 key, put a quote binding it
 * into a self-signed RA-TLS certificate (subject CN=RATLS,O=GramineDevelopers,C=US, validity
 * 2001..2030, both extensions as ra_tls_attest.c writes them), connect over TLS checking the
 * broker against its CA, send the 35-byte request, read the 41-byte response header and the secret.
 * It records every byte the broker sent, so tests can see that nothing came before verification.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { connect } from 'node:tls';
import { LEGACY_GRAMINE_QUOTE_OID, REQUEST_BYTES, RESPONSE_HEADER_SIZE, TCG_DICE_TAGGED_EVIDENCE_OID, parseResponseHeader } from '../../src/kbs/index.ts';
import { cbor, certificate, der, extension, name, pem } from './kbs-der.ts';
import type { TestEnclave, TestPlatform } from './kbs-quote.ts';

/** Which quote extensions the certificate carries; Gramine 1.9 writes both. */
export type EvidenceChoice = 'both' | 'tcg-dice' | 'legacy' | 'none';

/** Options of raTlsCertificate. */
export interface RaTlsOptions {
  evidence?: EvidenceChoice;
  /** Bind another key than the certificate's (a report-data mismatch). */
  bindOtherKey?: boolean;
  /** Leave "pubkey-hash" out of the claims. */
  noPubkeyHash?: boolean;
}

const RATLS_SUBJECT = der.seq(
  der.set(der.seq(der.oid('2.5.4.3'), der.tlv(0x13, Buffer.from('RATLS')))),
  der.set(der.seq(der.oid('2.5.4.10'), der.tlv(0x13, Buffer.from('GramineDevelopers')))),
  der.set(der.seq(der.oid('2.5.4.6'), der.tlv(0x13, Buffer.from('US')))),
);

/** The claims map Gramine serializes: { "pubkey-hash": bstr([1, bstr(sha256(spki))]) }. */
export function claimsFor(spki: Buffer, noPubkeyHash = false): Buffer {
  const entry = cbor.array(cbor.uint(1), cbor.bytes(createHash('sha256').update(spki).digest()));
  return noPubkeyHash ? cbor.map([cbor.text('nonce'), cbor.bytes(Buffer.alloc(8))]) : cbor.map([cbor.text('pubkey-hash'), cbor.bytes(entry)]);
}

/** Makes an RA-TLS key and certificate for `enclave` on `platform`; PEM for node:tls, DER for parsers. */
export function raTlsCertificate(platform: TestPlatform, enclave: TestEnclave, o: RaTlsOptions = {}): { key: KeyObject; certDer: Buffer; certPem: string; keyPem: string } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const bound = o.bindOtherKey ? generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey : pair.publicKey;
  const spki = bound.export({ type: 'spki', format: 'der' });
  const pad = (d: Buffer) => Buffer.concat([d, Buffer.alloc(32)]);
  const legacyQuote = platform.quote(enclave, pad(createHash('sha256').update(spki).digest()));
  const claims = claimsFor(spki, o.noPubkeyHash);
  const evidenceQuote = platform.quote(enclave, pad(createHash('sha256').update(claims).digest()));
  const evidence = cbor.tag(60000, cbor.array(cbor.bytes(evidenceQuote), cbor.bytes(claims)));
  const choice = o.evidence ?? 'both';
  const exts = [
    der.seq(der.oid('2.5.29.19'), der.octets(der.seq())),
    ...(choice === 'both' || choice === 'legacy' ? [extension({ oid: LEGACY_GRAMINE_QUOTE_OID, value: legacyQuote })] : []),
    ...(choice === 'both' || choice === 'tcg-dice' ? [extension({ oid: TCG_DICE_TAGGED_EVIDENCE_OID, value: evidence })] : []),
  ];
  const certDer = certificate({
    serial: 1,
    issuer: RATLS_SUBJECT,
    subject: RATLS_SUBJECT,
    notBefore: Date.UTC(2001, 0, 1) / 1000,
    notAfter: Date.UTC(2030, 11, 31, 23, 59, 59) / 1000,
    publicKey: pair.publicKey,
    signer: pair.privateKey,
    extensions: exts,
  });
  return { key: pair.privateKey, certDer, certPem: pem(certDer), keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A broker TLS identity: a CA (what the enclave measures) and a server certificate for 127.0.0.1 / localhost. */
export function brokerTlsIdentity(now: number): { caPem: string; certPem: string; keyPem: string } {
  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const server = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caName = name('Test KBS CA');
  const validity = { notBefore: now - 86400, notAfter: now + 365 * 86400 };
  const caDer = certificate({ serial: 10, issuer: caName, subject: caName, publicKey: ca.publicKey, signer: ca.privateKey, ...validity, extensions: [der.seq(der.oid('2.5.29.19'), der.bool(true), der.octets(der.seq(der.bool(true))))] });
  const san = der.seq(der.oid('2.5.29.17'), der.octets(der.seq(der.tlv(0x82, Buffer.from('localhost')), der.tlv(0x87, Buffer.of(127, 0, 0, 1)))));
  const certDer = certificate({ serial: 11, issuer: caName, subject: name('localhost'), publicKey: server.publicKey, signer: ca.privateKey, ...validity, extensions: [san] });
  return { caPem: pem(caDer), certPem: pem(certDer), keyPem: server.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** What the client saw. `secret` only when the whole response came. */
export interface AttestResult {
  received: Buffer;
  secret?: Buffer;
  error?: string;
}

/** Options of secretProvAttest. */
export interface AttestOptions {
  port: number;
  caPem: string;
  /** The client certificate and key; omit to connect without one. */
  certPem?: string;
  keyPem?: string;
  /** Send the request (default true). */
  sendRequest?: boolean;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Connects to the broker as secret_provision_start() does and returns what came back. */
export function secretProvAttest(o: AttestOptions): Promise<AttestResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const socket = connect({ host: '127.0.0.1', port: o.port, servername: 'localhost', ca: o.caPem, ...(o.certPem ? { cert: o.certPem, key: o.keyPem } : {}), minVersion: 'TLSv1.2', ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}) }, () => {
      if (o.sendRequest !== false) socket.write(REQUEST_BYTES);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      error = e.message;
    });
    socket.on('close', () => {
      const received = Buffer.concat(chunks);
      const size = received.length >= RESPONSE_HEADER_SIZE ? parseResponseHeader(received.subarray(0, RESPONSE_HEADER_SIZE)) : undefined;
      const complete = size !== undefined && received.length === RESPONSE_HEADER_SIZE + size;
      resolve({ received, ...(complete ? { secret: received.subarray(RESPONSE_HEADER_SIZE) } : {}), ...(error === undefined ? {} : { error }) });
    });
  });
}
