/**
 * A minimal, bounds-checked DER reader: just enough to walk an X.509 certificate or CRL to its
 * extensions, validity and signature. Every read is checked against the end of its parent, so a
 * malformed or truncated input throws DerError (callers turn it into a refusal or a CconvError) and
 * never reads outside the buffer. Indefinite lengths (BER), non-minimal lengths and lengths over
 * 4 bytes are refused.
 */

/** One TLV: `tag` is the identifier octet (low-tag-number form only), the value is bytes [start, end). */
export interface Tlv {
  tag: number;
  /** Offset of the identifier octet. */
  offset: number;
  /** Offset of the first value byte. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

/** A DER structure that cannot be read; the message says where. */
export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Tags used by the readers in this module. */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  /** [0] constructed: the certificate version, a CRL's extensions. */
  context0: 0xa0,
  /** [3] constructed: the certificate's extensions. */
  context3: 0xa3,
} as const;

/** Reads the TLV at `offset`, which must end at or before `limit` (default: the buffer's end). */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (limit > buf.length) throw new DerError('limit beyond the buffer');
  if (offset + 2 > limit) throw new DerError(`truncated header at ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag number at ${offset}`);
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at ${offset}`);
    if (n > 4) throw new DerError(`length of ${n} bytes at ${offset}`);
    if (start + n > limit) throw new DerError(`truncated length at ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i]!;
    if (length < 0x80 || (n > 1 && buf[start] === 0)) throw new DerError(`non-minimal length at ${offset}`);
    start += n;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`value of ${length} bytes at ${offset} runs past its container`);
  return { tag, offset, start, end };
}

/** The TLV at `offset`, which must have tag `tag`. */
export function expectTlv(buf: Uint8Array, offset: number, tag: number, limit = buf.length, what = 'element'): Tlv {
  const tlv = readTlv(buf, offset, limit);
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)} at ${offset}`);
  return tlv;
}

/** The children of a constructed TLV, in order; they must fill it exactly. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError(`tag 0x${parent.tag.toString(16)} at ${parent.offset} is not constructed`);
  const out: Tlv[] = [];
  let at = parent.start;
  while (at < parent.end) {
    const child = readTlv(buf, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** The value bytes of a TLV (a view, not a copy). */
export function valueOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.start, tlv.end);
}

/** The whole encoding of a TLV, header included (a view). */
export function encodingOf(buf: Uint8Array, tlv: Tlv): Uint8Array {
  return buf.subarray(tlv.offset, tlv.end);
}

/** Dotted form of an OBJECT IDENTIFIER's content bytes, e.g. `2.23.133.5.4.9`. */
export function oidToString(content: Uint8Array): string {
  if (content.length === 0) throw new DerError('empty OID');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (value === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) throw new DerError('truncated OID');
  }
  return arcs.join('.');
}

/** A UTCTime or GeneralizedTime (`...Z` forms only, as RFC 5280 requires) as Unix seconds. */
export function readTime(buf: Uint8Array, tlv: Tlv): number {
  const text = Buffer.from(valueOf(buf, tlv)).toString('latin1');
  const m =
    tlv.tag === Tag.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === Tag.generalizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) throw new DerError(`not a UTCTime/GeneralizedTime in Z form at ${tlv.offset}`);
  let year = Number(m[1]);
  if (tlv.tag === Tag.utcTime) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
}

/** The content of a BIT STRING with no unused bits (signatures, public keys). */
export function bitStringBytes(buf: Uint8Array, tlv: Tlv): Uint8Array {
  if (tlv.tag !== Tag.bitString || tlv.end - tlv.start < 1 || buf[tlv.start] !== 0) throw new DerError(`expected a whole-byte BIT STRING at ${tlv.offset}`);
  return buf.subarray(tlv.start + 1, tlv.end);
}
