/**
 * Encoders the key-broker tests build their inputs with: DER (X.509 certificates, CRLs, the SGX
 * PCK extension) and CBOR (RA-TLS tagged evidence). Minimal, definite-length, DER-minimal lengths;
 * an X.509 certificate or CRL signed with node:crypto (ECDSA with SHA-256).
 */
import { sign, type KeyObject } from 'node:crypto';

const cat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

/** DER encoders; each returns one complete TLV. */
export const der = {
  tlv: (tag: number, ...content: Uint8Array[]): Buffer => {
    const body = cat(content);
    return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
  },
  seq: (...items: Uint8Array[]) => der.tlv(0x30, ...items),
  set: (...items: Uint8Array[]) => der.tlv(0x31, ...items),
  bool: (v: boolean) => der.tlv(0x01, Buffer.of(v ? 0xff : 0)),
  int: (v: number | bigint): Buffer => {
    let hex = BigInt(v).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    let bytes = Buffer.from(hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
    return der.tlv(0x02, bytes);
  },
  enumerated: (v: number) => der.tlv(0x0a, Buffer.of(v)),
  /** An OID from its dotted form. */
  oid: (dotted: string): Buffer => der.tlv(0x06, oidContent(dotted)),
  /** An OID from raw content bytes (Gramine's legacy OID is not a valid dotted one). */
  oidRaw: (content: Uint8Array) => der.tlv(0x06, content),
  octets: (b: Uint8Array) => der.tlv(0x04, b),
  bits: (b: Uint8Array) => der.tlv(0x03, Buffer.of(0), b),
  utf8: (s: string) => der.tlv(0x0c, Buffer.from(s, 'utf8')),
  /** UTCTime (years 1950..2049) from Unix seconds. */
  time: (secs: number): Buffer => {
    const iso = new Date(secs * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
    const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
    return der.tlv(0x17, Buffer.from(text, 'latin1'));
  },
  explicit: (n: number, item: Uint8Array) => der.tlv(0xa0 | n, item),
};

function oidContent(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (v: number) => {
    const bytes = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift(0x80 | (v & 0x7f));
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.from(out);
}

/** An X.501 Name with a CN and an O. */
export const name = (cn: string, o = 'cconv test PKI') =>
  der.seq(der.set(der.seq(der.oid('2.5.4.3'), der.utf8(cn))), der.set(der.seq(der.oid('2.5.4.10'), der.utf8(o))));

const ECDSA_SHA256 = der.seq(der.oid('1.2.840.10045.4.3.2'));

/** One X.509 extension: OID, criticality, and the DER value (wrapped in the OCTET STRING here). */
export interface Ext {
  oid: string | Uint8Array;
  critical?: boolean;
  value: Uint8Array;
}

/** Encodes an extension; a `critical: false` is written out explicitly only when `explicitFalse`. */
export function extension(e: Ext, explicitFalse = false): Buffer {
  const oid = typeof e.oid === 'string' ? der.oid(e.oid) : der.oidRaw(e.oid);
  const crit = e.critical === true ? [der.bool(true)] : explicitFalse ? [der.bool(false)] : [];
  return der.seq(oid, ...crit, der.octets(e.value));
}

/** Fields of a certificate to sign. */
export interface CertSpec {
  serial: number | bigint;
  issuer: Buffer;
  subject: Buffer;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  /** Signs the certificate (the issuer's private key). */
  signer: KeyObject;
  extensions?: Buffer[];
}

/** A DER X.509 v3 certificate signed with ecdsa-with-SHA256. */
export function certificate(spec: CertSpec): Buffer {
  const spki = spec.publicKey.export({ type: 'spki', format: 'der' });
  const exts = spec.extensions && spec.extensions.length > 0 ? [der.explicit(3, der.seq(...spec.extensions))] : [];
  const tbs = der.seq(der.explicit(0, der.int(2)), der.int(spec.serial), ECDSA_SHA256, spec.issuer, der.seq(der.time(spec.notBefore), der.time(spec.notAfter)), spec.subject, spki, ...exts);
  return der.seq(tbs, ECDSA_SHA256, der.bits(sign('sha256', tbs, spec.signer)));
}

/** A DER CRL (v2) signed with ecdsa-with-SHA256. */
export function crl(spec: { issuer: Buffer; signer: KeyObject; thisUpdate: number; nextUpdate: number; revoked?: Array<number | bigint> }): Buffer {
  const revoked = spec.revoked && spec.revoked.length > 0 ? [der.seq(...spec.revoked.map((s) => der.seq(der.int(s), der.time(spec.thisUpdate))))] : [];
  const tbs = der.seq(der.int(1), ECDSA_SHA256, spec.issuer, der.time(spec.thisUpdate), der.time(spec.nextUpdate), ...revoked);
  return der.seq(tbs, ECDSA_SHA256, der.bits(sign('sha256', tbs, spec.signer)));
}

/** PEM of a DER certificate. */
export const pem = (d: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(d).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

function cborHead(major: number, n: number | bigint): Buffer {
  const v = BigInt(n);
  if (v < 24n) return Buffer.of((major << 5) | Number(v));
  const size = v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x100000000n ? 4 : 8;
  const b = Buffer.alloc(1 + size);
  b[0] = (major << 5) | { 1: 24, 2: 25, 4: 26, 8: 27 }[size]!;
  for (let i = 0; i < size; i++) b[size - i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return b;
}

/** CBOR encoders (definite lengths, as libcbor serializes). */
export const cbor = {
  uint: (n: number | bigint) => cborHead(0, n),
  bytes: (b: Uint8Array) => Buffer.concat([cborHead(2, b.length), b]),
  text: (s: string) => Buffer.concat([cborHead(3, Buffer.byteLength(s)), Buffer.from(s)]),
  array: (...items: Buffer[]) => Buffer.concat([cborHead(4, items.length), ...items]),
  map: (...pairs: Array<[Buffer, Buffer]>) => Buffer.concat([cborHead(5, pairs.length), ...pairs.flat()]),
  tag: (t: number | bigint, item: Buffer) => Buffer.concat([cborHead(6, t), item]),
};
