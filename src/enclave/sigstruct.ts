/**
 * The 1808-byte SGX SIGSTRUCT (Intel SDM vol. 3, "Enclave Signature Structure"), laid out as
 * Gramine's sigstruct.py does. All integers are little-endian; MODULUS, SIGNATURE, Q1 and Q2 are
 * 384-byte little-endian numbers. Bytes not covered by a field (reserved areas, CET attributes,
 * ISV family/ext ids) are zero when built. Pure code: no I/O.
 */
import { CconvError } from '../errors.ts';
import { fromBcd, toBcd, type SigstructDate } from './date.ts';

/** Size of a SIGSTRUCT in bytes. */
export const SIGSTRUCT_SIZE = 1808;
/** Size of MODULUS, SIGNATURE, Q1 and Q2 in bytes (RSA-3072). */
export const SE_KEY_SIZE = 384;
/** HEADER, fixed by the SDM. */
export const SIGSTRUCT_HEADER = Buffer.from('06000000e10000000000010000000000', 'hex');
/** HEADER2, fixed by the SDM. */
export const SIGSTRUCT_HEADER2 = Buffer.from('01010000600000006000000001000000', 'hex');
/** Gramine's default ATTRIBUTEMASK.FLAGS (every bit enforced). */
export const SGX_FLAGS_MASK_CONST = 0xffffffffffffffffn;
/** Gramine's default ATTRIBUTEMASK.XFRM. */
export const SGX_XFRM_MASK_CONST = 0xfffffffffff9ff1bn;
/** Gramine's default MISCMASK. */
export const SGX_MISCSELECT_MASK_CONST = 0xffffffff;
/** ATTRIBUTES.FLAGS bit of a debug enclave. */
export const SGX_FLAGS_DEBUG = 0x2n;

/** Byte offsets of the SIGSTRUCT fields. */
export const SIGSTRUCT_OFFSETS = {
  header: 0x0,
  vendor: 0x10,
  date: 0x14, // day u8 at 0x14, month u8 at 0x15, year le16 at 0x16, all BCD
  header2: 0x18,
  swdefined: 0x28,
  modulus: 0x80,
  exponent: 0x200,
  signature: 0x204,
  miscSelect: 0x384,
  miscMask: 0x388,
  attributes: 0x3a0, // flags u64, then xfrm u64
  attributeMask: 0x3b0, // flags mask u64, then xfrm mask u64
  enclaveHash: 0x3c0,
  isvProdId: 0x400,
  isvSvn: 0x402,
  q1: 0x410,
  q2: 0x590,
} as const;

/** Every field of a SIGSTRUCT, decoded. Byte fields are copies, never views of the input. */
export interface Sigstruct {
  header: Buffer;
  vendor: number;
  date: SigstructDate;
  header2: Buffer;
  swdefined: number;
  /** 384 bytes, little-endian. */
  modulus: Buffer;
  exponent: number;
  /** 384 bytes, little-endian. */
  signature: Buffer;
  miscSelect: number;
  miscMask: number;
  attributeFlags: bigint;
  attributeXfrm: bigint;
  attributeFlagsMask: bigint;
  attributeXfrmMask: bigint;
  /** MRENCLAVE, 32 bytes. */
  enclaveHash: Buffer;
  isvProdId: number;
  isvSvn: number;
  /** 384 bytes, little-endian. */
  q1: Buffer;
  /** 384 bytes, little-endian. */
  q2: Buffer;
}

/** Fields every SIGSTRUCT needs; the rest take Gramine's defaults (signature parts: zero). */
type RequiredFields =
  | 'date'
  | 'miscSelect'
  | 'attributeFlags'
  | 'attributeXfrm'
  | 'enclaveHash'
  | 'isvProdId'
  | 'isvSvn';

/** Input of buildSigstruct: the required fields plus any defaulted field to override. */
export type SigstructInit = Pick<Sigstruct, RequiredFields> &
  Partial<Omit<Sigstruct, RequiredFields>>;

function bad(message: string): CconvError {
  return new CconvError('E_SIGSTRUCT_INVALID', message);
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw bad(`SIGSTRUCT ${name} out of range: ${v}`);
}

function checkU64(name: string, v: bigint): void {
  if (v < 0n || v > 0xffffffffffffffffn) throw bad(`SIGSTRUCT ${name} out of range`);
}

function putBytes(buf: Buffer, name: string, offset: number, value: Buffer, size: number): void {
  if (value.length !== size) throw bad(`SIGSTRUCT ${name} must be ${size} bytes, got ${value.length}`);
  value.copy(buf, offset);
}

/**
 * Encodes a SIGSTRUCT. Missing header/header2/vendor/swdefined/masks take Gramine's defaults;
 * missing modulus/exponent/signature/q1/q2 stay zero (an unsigned SIGSTRUCT, ready for
 * signingData). Out-of-range values or wrong byte lengths throw E_SIGSTRUCT_INVALID.
 */
export function buildSigstruct(f: SigstructInit): Buffer {
  const o = SIGSTRUCT_OFFSETS;
  const buf = Buffer.alloc(SIGSTRUCT_SIZE);
  putBytes(buf, 'header', o.header, f.header ?? SIGSTRUCT_HEADER, 16);
  const vendor = f.vendor ?? 0;
  checkUint('vendor', vendor, 0xffffffff);
  buf.writeUInt32LE(vendor, o.vendor);
  const { year, month, day } = f.date;
  checkUint('date year', year, 9999);
  checkUint('date month', month, 99);
  checkUint('date day', day, 99);
  buf.writeUInt8(toBcd(day), o.date);
  buf.writeUInt8(toBcd(month), o.date + 1);
  buf.writeUInt16LE(toBcd(year), o.date + 2);
  putBytes(buf, 'header2', o.header2, f.header2 ?? SIGSTRUCT_HEADER2, 16);
  const swdefined = f.swdefined ?? 0;
  checkUint('swdefined', swdefined, 0xffffffff);
  buf.writeUInt32LE(swdefined, o.swdefined);
  if (f.modulus) putBytes(buf, 'modulus', o.modulus, f.modulus, SE_KEY_SIZE);
  const exponent = f.exponent ?? 0;
  checkUint('exponent', exponent, 0xffffffff);
  buf.writeUInt32LE(exponent, o.exponent);
  if (f.signature) putBytes(buf, 'signature', o.signature, f.signature, SE_KEY_SIZE);
  checkUint('misc_select', f.miscSelect, 0xffffffff);
  buf.writeUInt32LE(f.miscSelect, o.miscSelect);
  const miscMask = f.miscMask ?? SGX_MISCSELECT_MASK_CONST;
  checkUint('misc_mask', miscMask, 0xffffffff);
  buf.writeUInt32LE(miscMask, o.miscMask);
  const u64s: Array<[string, bigint, number]> = [
    ['attribute flags', f.attributeFlags, o.attributes],
    ['attribute xfrm', f.attributeXfrm, o.attributes + 8],
    ['attribute flags mask', f.attributeFlagsMask ?? SGX_FLAGS_MASK_CONST, o.attributeMask],
    ['attribute xfrm mask', f.attributeXfrmMask ?? SGX_XFRM_MASK_CONST, o.attributeMask + 8],
  ];
  for (const [name, v, off] of u64s) {
    checkU64(name, v);
    buf.writeBigUInt64LE(v, off);
  }
  putBytes(buf, 'enclave hash', o.enclaveHash, f.enclaveHash, 32);
  checkUint('isv_prod_id', f.isvProdId, 0xffff);
  buf.writeUInt16LE(f.isvProdId, o.isvProdId);
  checkUint('isv_svn', f.isvSvn, 0xffff);
  buf.writeUInt16LE(f.isvSvn, o.isvSvn);
  if (f.q1) putBytes(buf, 'q1', o.q1, f.q1, SE_KEY_SIZE);
  if (f.q2) putBytes(buf, 'q2', o.q2, f.q2, SE_KEY_SIZE);
  return buf;
}

/**
 * Decodes a SIGSTRUCT. Checks its size, HEADER, HEADER2 and the BCD date encoding (like
 * Gramine's Sigstruct.from_bytes) and throws E_SIGSTRUCT_INVALID on any mismatch. It does not
 * verify the signature (see verifySigstruct).
 */
export function parseSigstruct(buf: Buffer): Sigstruct {
  if (buf.length !== SIGSTRUCT_SIZE) {
    throw bad(`SIGSTRUCT must be ${SIGSTRUCT_SIZE} bytes, got ${buf.length}`);
  }
  const o = SIGSTRUCT_OFFSETS;
  const copy = (off: number, len: number) => Buffer.from(buf.subarray(off, off + len));
  const header = copy(o.header, 16);
  const header2 = copy(o.header2, 16);
  if (!header.equals(SIGSTRUCT_HEADER)) throw bad('SIGSTRUCT HEADER does not match');
  if (!header2.equals(SIGSTRUCT_HEADER2)) throw bad('SIGSTRUCT HEADER2 does not match');
  const bcd = (name: string, raw: number) => {
    const v = fromBcd(raw);
    if (v === null) {
      throw new CconvError('E_SIGSTRUCT_INVALID', `misencoded SIGSTRUCT date ${name}: 0x${raw.toString(16)}`, {
        hint: 'the date must be stored as BCD (2026 as 0x2026); re-sign the enclave',
      });
    }
    return v;
  };
  return {
    header,
    vendor: buf.readUInt32LE(o.vendor),
    date: {
      year: bcd('year', buf.readUInt16LE(o.date + 2)),
      month: bcd('month', buf.readUInt8(o.date + 1)),
      day: bcd('day', buf.readUInt8(o.date)),
    },
    header2,
    swdefined: buf.readUInt32LE(o.swdefined),
    modulus: copy(o.modulus, SE_KEY_SIZE),
    exponent: buf.readUInt32LE(o.exponent),
    signature: copy(o.signature, SE_KEY_SIZE),
    miscSelect: buf.readUInt32LE(o.miscSelect),
    miscMask: buf.readUInt32LE(o.miscMask),
    attributeFlags: buf.readBigUInt64LE(o.attributes),
    attributeXfrm: buf.readBigUInt64LE(o.attributes + 8),
    attributeFlagsMask: buf.readBigUInt64LE(o.attributeMask),
    attributeXfrmMask: buf.readBigUInt64LE(o.attributeMask + 8),
    enclaveHash: copy(o.enclaveHash, 32),
    isvProdId: buf.readUInt16LE(o.isvProdId),
    isvSvn: buf.readUInt16LE(o.isvSvn),
    q1: copy(o.q1, SE_KEY_SIZE),
    q2: copy(o.q2, SE_KEY_SIZE),
  };
}

/**
 * The 256 bytes the RSA signature covers: SIGSTRUCT[0:128] || SIGSTRUCT[0x384:0x384+128].
 * The signer hashes them with SHA-256 (RSASSA-PKCS1-v1_5). Returns a new buffer.
 */
export function signingData(sigstruct: Buffer): Buffer {
  if (sigstruct.length !== SIGSTRUCT_SIZE) {
    throw bad(`SIGSTRUCT must be ${SIGSTRUCT_SIZE} bytes, got ${sigstruct.length}`);
  }
  const after = SIGSTRUCT_OFFSETS.miscSelect;
  return Buffer.concat([sigstruct.subarray(0, 128), sigstruct.subarray(after, after + 128)]);
}
