/**
 * The few X.509 facts the key broker reads itself, with the DER walker in der.ts: a certificate's
 * extensions (to find the RA-TLS quote) and a CRL's dates and signature (which @phala/dcap-qvl
 * does not check). Everything else about certificates goes through node:crypto's X509Certificate,
 * fed through x509FromDer.
 */
import { X509Certificate, verify as verifySignature, type KeyObject } from 'node:crypto';
import { DerError, Tag, bitStringBytes, children, encodingOf, expectTlv, oidToString, readTime, valueOf, type Tlv } from './der.ts';

/** One certificate extension. `oid` is the OBJECT IDENTIFIER's content bytes, as found. */
export interface CertExtension {
  oid: Uint8Array;
  critical: boolean;
  /** The extnValue OCTET STRING's content (a view into the certificate). */
  value: Uint8Array;
}

/**
 * A certificate from DER, through PEM. node:crypto's X509Certificate looks for PEM first and takes
 * the first "-----BEGIN CERTIFICATE-----" anywhere in the input, so DER holding such text (an
 * RA-TLS certificate embeds a quote, which embeds the PEM PCK chain) would be read as the embedded
 * certificate. Wrapping the DER in PEM ourselves makes ours the first one.
 */
export function x509FromDer(der: Uint8Array): X509Certificate {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return new X509Certificate(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`);
}

function tbsFields(der: Uint8Array): Tlv[] {
  const cert = expectTlv(der, 0, Tag.sequence, der.length, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after the certificate');
  const [tbs] = children(der, cert);
  if (tbs === undefined || tbs.tag !== Tag.sequence) throw new DerError('Certificate: no TBSCertificate');
  return children(der, tbs);
}

/** The subjectPublicKeyInfo of a DER certificate, as encoded in it (a view). Throws DerError. */
export function certificateSpki(der: Uint8Array): Uint8Array {
  const fields = tbsFields(der);
  const first = fields[0]?.tag === Tag.context0 ? 1 : 0; // [0] version
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const spki = fields[first + 5];
  if (spki?.tag !== Tag.sequence) throw new DerError('TBSCertificate: no subjectPublicKeyInfo');
  return encodingOf(der, spki);
}

/** The extensions of a DER certificate, in order (none for a v1 certificate). Throws DerError. */
export function certificateExtensions(der: Uint8Array): CertExtension[] {
  const wrappers = tbsFields(der).filter((t) => t.tag === Tag.context3);
  if (wrappers.length > 1) throw new DerError('TBSCertificate: more than one [3] extensions field');
  if (wrappers.length === 0) return [];
  const [list, ...rest] = children(der, wrappers[0]!);
  if (list === undefined || list.tag !== Tag.sequence || rest.length > 0) throw new DerError('[3] extensions: expected one SEQUENCE');
  return children(der, list).map((ext) => readExtension(der, ext));
}

function readExtension(der: Uint8Array, ext: Tlv): CertExtension {
  if (ext.tag !== Tag.sequence) throw new DerError(`Extension at ${ext.offset}: not a SEQUENCE`);
  const parts = children(der, ext);
  const [oid, second, third] = parts;
  if (oid?.tag !== Tag.oid || parts.length > 3) throw new DerError(`Extension at ${ext.offset}: malformed`);
  let critical = false;
  let value = second;
  if (second?.tag === Tag.boolean) {
    if (second.end - second.start !== 1) throw new DerError(`Extension at ${ext.offset}: BOOLEAN of wrong length`);
    critical = der[second.start] !== 0;
    value = third;
  } else if (third !== undefined) throw new DerError(`Extension at ${ext.offset}: malformed`);
  if (value?.tag !== Tag.octetString) throw new DerError(`Extension at ${ext.offset}: extnValue is not an OCTET STRING`);
  return { oid: valueOf(der, oid), critical, value: valueOf(der, value) };
}

/** A parsed certificate revocation list (RFC 5280 CertificateList). */
export interface Crl {
  /** The signed part, tbsCertList, with its header. */
  tbs: Uint8Array;
  /** Dotted OID of the signature algorithm. */
  signatureAlgorithm: string;
  /** The signature (for ECDSA: the DER Ecdsa-Sig-Value). */
  signature: Uint8Array;
  /** Unix seconds. */
  thisUpdate: number;
  /** Unix seconds; undefined when the CRL has none. */
  nextUpdate: number | undefined;
  /** Serial numbers of the revoked certificates, as lowercase hex of their DER INTEGER content. */
  revokedSerials: string[];
}

/** Parses a DER CRL. Throws DerError. */
export function parseCrl(der: Uint8Array): Crl {
  const list = expectTlv(der, 0, Tag.sequence, der.length, 'CertificateList');
  if (list.end !== der.length) throw new DerError('trailing bytes after the CRL');
  const [tbs, alg, sig, ...extra] = children(der, list);
  if (tbs?.tag !== Tag.sequence || alg?.tag !== Tag.sequence || sig === undefined || extra.length > 0) throw new DerError('CertificateList: malformed');
  const [algOid] = children(der, alg);
  if (algOid?.tag !== Tag.oid) throw new DerError('CertificateList: malformed signatureAlgorithm');
  const fields = children(der, tbs);
  let i = 0;
  if (fields[i]?.tag === Tag.integer) i++; // version
  if (fields[i]?.tag !== Tag.sequence || fields[i + 1]?.tag !== Tag.sequence) throw new DerError('TBSCertList: malformed signature or issuer');
  i += 2;
  const isTime = (t: Tlv | undefined) => t?.tag === Tag.utcTime || t?.tag === Tag.generalizedTime;
  if (!isTime(fields[i])) throw new DerError('TBSCertList: no thisUpdate');
  const thisUpdate = readTime(der, fields[i++]!);
  const nextUpdate = isTime(fields[i]) ? readTime(der, fields[i++]!) : undefined;
  const revokedSerials: string[] = [];
  if (fields[i]?.tag === Tag.sequence) {
    for (const entry of children(der, fields[i++]!)) {
      const [serial] = entry.tag === Tag.sequence ? children(der, entry) : [];
      if (serial?.tag !== Tag.integer) throw new DerError('TBSCertList: malformed revoked entry');
      revokedSerials.push(Buffer.from(valueOf(der, serial)).toString('hex'));
    }
  }
  if (fields[i]?.tag === Tag.context0) i++;
  if (i !== fields.length) throw new DerError('TBSCertList: unexpected fields');
  return {
    tbs: encodingOf(der, tbs),
    signatureAlgorithm: oidToString(valueOf(der, algOid)),
    signature: bitStringBytes(der, sig),
    thisUpdate,
    nextUpdate,
    revokedSerials,
  };
}

/** ecdsa-with-SHA256, the only signature algorithm of Intel's SGX PKI. */
export const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** True when `crl` carries a valid ecdsa-with-SHA256 signature by `issuerKey`. */
export function crlSignedBy(crl: Crl, issuerKey: KeyObject): boolean {
  if (crl.signatureAlgorithm !== ECDSA_WITH_SHA256) return false;
  try {
    return verifySignature('sha256', crl.tbs, issuerKey, crl.signature);
  } catch {
    return false;
  }
}
