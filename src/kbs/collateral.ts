/**
 * Quote collateral as a PCCS serves it (the JSON @phala/dcap-qvl takes): the PCK CRL with its
 * issuer chain, the root CA CRL, TCB info and QE identity (JSON text, each with an ECDSA signature
 * as hex r||s and its PEM issuer chain). This module checks what dcap-qvl 0.3.9 leaves out:
 *
 * - the shape of the document (dcap-qvl fails on a missing field with a TypeError);
 * - the validity windows of all four documents at the verification time (dcap-qvl checks TCB info
 *   and QE identity; it never looks at a CRL's thisUpdate/nextUpdate);
 * - the CRL signatures: the root CA CRL by the pinned root, the PCK CRL by the first certificate of
 *   its issuer chain, which must be signed by the root and be the CA that issued the quote's PCK
 *   certificate (dcap-qvl reads the CRLs' serial lists without checking who signed them, and skips
 *   a CRL it cannot parse).
 */
import { X509Certificate } from 'node:crypto';
import type { Collateral } from '@phala/dcap-qvl';
import { DerError } from './der.ts';
import { crlSignedBy, parseCrl, x509FromDer, type Crl } from './x509.ts';

export type { Collateral };

/** A failed collateral check: `check` names it (see quote.ts), `reason` says what. */
export interface CollateralProblem {
  check: 'collateral-format' | 'collateral-expired' | 'crl';
  reason: string;
}

const STRING_FIELDS = ['pck_crl_issuer_chain', 'tcb_info_issuer_chain', 'tcb_info', 'qe_identity_issuer_chain', 'qe_identity'] as const;
const BYTES_FIELDS = ['root_ca_crl', 'pck_crl', 'tcb_info_signature', 'qe_identity_signature'] as const;

/** Bytes of a field that PCCS JSON gives as hex or as an array of byte values. */
export function collateralBytes(value: string | number[]): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'hex') : Buffer.from(value);
}

/** Checks the document's shape; returns a problem or the collateral typed. */
export function checkCollateralShape(doc: unknown): CollateralProblem | Collateral {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { check: 'collateral-format', reason: 'the collateral is not a JSON object' };
  const o = doc as Record<string, unknown>;
  for (const f of STRING_FIELDS) if (typeof o[f] !== 'string') return { check: 'collateral-format', reason: `collateral field "${f}" is missing or not a string` };
  for (const f of BYTES_FIELDS) {
    const v = o[f];
    const ok = (typeof v === 'string' && /^([0-9a-fA-F]{2})+$/.test(v)) || (Array.isArray(v) && v.length > 0 && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255));
    if (!ok) return { check: 'collateral-format', reason: `collateral field "${f}" is missing or not hex bytes` };
  }
  for (const f of ['tcb_info', 'qe_identity'] as const) {
    try {
      const d = JSON.parse(o[f] as string) as { issueDate?: unknown; nextUpdate?: unknown };
      if (!validDate(d.issueDate) || !validDate(d.nextUpdate)) return { check: 'collateral-format', reason: `${f} has no valid issueDate/nextUpdate` };
    } catch {
      return { check: 'collateral-format', reason: `${f} is not valid JSON` };
    }
  }
  return o as unknown as Collateral;
}

const validDate = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
const iso = (secs: number) => new Date(secs * 1000).toISOString().replace('.000Z', 'Z');

function parsedCrl(c: Collateral, field: 'root_ca_crl' | 'pck_crl'): Crl | CollateralProblem {
  try {
    return parseCrl(collateralBytes(c[field]));
  } catch (err) {
    if (err instanceof DerError) return { check: 'collateral-format', reason: `${field} is not a DER CRL: ${err.message}` };
    throw err;
  }
}

/**
 * The first document outside its validity window at `nowSecs`, in the order TCB info, QE identity,
 * root CA CRL, PCK CRL; undefined when all are current. Assumes checkCollateralShape passed.
 */
export function checkCollateralTimes(c: Collateral, nowSecs: number): CollateralProblem | undefined {
  const windows: Array<[string, number, number | undefined]> = [];
  for (const [name, field] of [['TCB info', 'tcb_info'], ['QE identity', 'qe_identity']] as const) {
    const d = JSON.parse(c[field]) as { issueDate: string; nextUpdate: string };
    windows.push([name, Date.parse(d.issueDate) / 1000, Date.parse(d.nextUpdate) / 1000]);
  }
  for (const [name, field] of [['root CA CRL', 'root_ca_crl'], ['PCK CRL', 'pck_crl']] as const) {
    const crl = parsedCrl(c, field);
    if ('check' in crl) return crl;
    windows.push([name, crl.thisUpdate, crl.nextUpdate]);
  }
  for (const [name, from, until] of windows) {
    if (nowSecs < from) return { check: 'collateral-expired', reason: `${name} is not valid yet: issued ${iso(from)}, now ${iso(nowSecs)}` };
    if (until === undefined) return { check: 'collateral-format', reason: `${name} has no nextUpdate` };
    if (nowSecs > until) return { check: 'collateral-expired', reason: `${name} expired at ${iso(until)} (now ${iso(nowSecs)}); fetch fresh collateral` };
  }
  return undefined;
}

/**
 * Checks who signed the two CRLs. `rootDer` is the trusted root; `pckIssuerDer` the CA certificate
 * that issued the quote's PCK certificate (second in the quote's PCK chain): the PCK CRL's issuer
 * must have its subject and key, so that the CRL of another CA cannot stand in for it.
 */
export function checkCrlSignatures(c: Collateral, rootDer: Uint8Array, pckIssuerDer: Uint8Array | undefined): CollateralProblem | undefined {
  const root = x509FromDer(rootDer);
  const rootCrl = parsedCrl(c, 'root_ca_crl');
  if ('check' in rootCrl) return rootCrl;
  if (!crlSignedBy(rootCrl, root.publicKey)) return { check: 'crl', reason: 'the root CA CRL is not signed by the trusted root CA' };
  const pckCrl = parsedCrl(c, 'pck_crl');
  if ('check' in pckCrl) return pckCrl;
  let issuer: X509Certificate;
  try {
    const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(c.pck_crl_issuer_chain)?.[0];
    if (pem === undefined) return { check: 'collateral-format', reason: 'pck_crl_issuer_chain holds no certificate' };
    issuer = new X509Certificate(pem);
  } catch {
    return { check: 'collateral-format', reason: 'pck_crl_issuer_chain: the first certificate does not parse' };
  }
  if (!issuer.checkIssued(root) || !issuer.verify(root.publicKey)) return { check: 'crl', reason: 'the PCK CRL issuer certificate is not signed by the trusted root CA' };
  if (!crlSignedBy(pckCrl, issuer.publicKey)) return { check: 'crl', reason: 'the PCK CRL is not signed by its issuer certificate' };
  const pckIssuer = pckIssuerDer === undefined ? undefined : x509FromDer(pckIssuerDer);
  if (pckIssuer !== undefined && (pckIssuer.subject !== issuer.subject || !pckIssuer.publicKey.equals(issuer.publicKey))) {
    return { check: 'crl', reason: 'the PCK CRL comes from another CA than the one that issued the PCK certificate' };
  }
  return undefined;
}
