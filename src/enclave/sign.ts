/**
 * Signing a SIGSTRUCT: build the unsigned structure from the enclave identity, have a Signer sign
 * its signing data, verify, then fill MODULUS, EXPONENT, SIGNATURE, Q1 and Q2. Also the
 * reverse check of a finished SIGSTRUCT.
 */
import { CconvError } from '../errors.ts';
import { checkSigstructDate, type SigstructDate } from './date.ts';
import {
  assertSignature,
  bigintFromLE,
  bigintToLE,
  checkSgxKey,
  computeQ1Q2,
  mrsignerOf,
  SGX_RSA_PUBLIC_EXPONENT,
  bigintFromBE,
  type SignerPublicKey,
} from './rsa.ts';
import type { Signer } from './signer.ts';
import {
  buildSigstruct,
  parseSigstruct,
  SGX_FLAGS_DEBUG,
  SIGSTRUCT_OFFSETS,
  signingData,
  type Sigstruct,
} from './sigstruct.ts';

/** The enclave attributes a SIGSTRUCT carries (as computed from the manifest by measure/). */
export interface SigstructAttributes {
  /** ATTRIBUTES.FLAGS (MODE64BIT 0x4, DEBUG 0x2, ...). */
  flags: bigint | number;
  /** ATTRIBUTES.XFRM. */
  xfrm: bigint | number;
  /** ATTRIBUTEMASK.XFRM (Gramine: 0xfffffffffff9ff1b plus the bits of cpu_features). */
  xfrmMask: bigint | number;
  /** MISCSELECT (EXINFO 0x1 with sgx.use_exinfo). */
  miscSelect: number;
  /** ATTRIBUTEMASK.FLAGS; default 0xffffffffffffffff as Gramine. */
  flagsMask?: bigint | number;
  /** MISCMASK; default 0xffffffff as Gramine. */
  miscMask?: number;
}

/** What goes into a SIGSTRUCT besides the signature. */
export interface SigstructRequest {
  /** MRENCLAVE, 64 hex digits. */
  mrenclave: string;
  attributes: SigstructAttributes;
  isvProdId: number;
  isvSvn: number;
  /** Signing date; see parseSigstructDate / defaultSigstructDate. */
  date: SigstructDate;
  /** When given, must agree with the DEBUG bit of attributes.flags (a guard, not a setter). */
  debug?: boolean;
}

/** Input of signSigstruct. */
export interface SignSigstructOptions extends SigstructRequest {
  signer: Signer;
}

/** A signed SIGSTRUCT and its MRSIGNER (lowercase hex). */
export interface SignedSigstruct {
  sigstruct: Buffer;
  mrsigner: string;
}

/**
 * Builds the unsigned SIGSTRUCT (signature fields zero) for `req`. Bad values (MRENCLAVE not 64
 * hex digits, ISV ids outside 0..65535, a bad date, debug disagreeing with the flags) are E_USAGE.
 */
export function buildUnsignedSigstruct(req: SigstructRequest): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(req.mrenclave)) usageThrow(`MRENCLAVE must be 64 hex digits`);
  for (const [name, v] of [['ISVPRODID', req.isvProdId], ['ISVSVN', req.isvSvn]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) usageThrow(`${name} must be 0..65535, got ${v}`);
  }
  checkSigstructDate(req.date);
  const a = req.attributes;
  const flags = BigInt(a.flags);
  if (req.debug !== undefined && req.debug !== ((flags & SGX_FLAGS_DEBUG) !== 0n)) {
    usageThrow(`debug=${req.debug} disagrees with ATTRIBUTES.FLAGS 0x${flags.toString(16)}`);
  }
  return buildSigstruct({
    date: req.date,
    enclaveHash: Buffer.from(req.mrenclave, 'hex'),
    isvProdId: req.isvProdId,
    isvSvn: req.isvSvn,
    miscSelect: a.miscSelect,
    attributeFlags: flags,
    attributeXfrm: BigInt(a.xfrm),
    attributeXfrmMask: BigInt(a.xfrmMask),
    ...(a.flagsMask !== undefined ? { attributeFlagsMask: BigInt(a.flagsMask) } : {}),
    ...(a.miscMask !== undefined ? { miscMask: a.miscMask } : {}),
  });
}

function usageThrow(message: string): never {
  throw new CconvError('E_USAGE', message);
}

/**
 * Completes an unsigned SIGSTRUCT with `signature` (384 bytes, big-endian) made by the key
 * `publicKey`: checks the key (E_KEY_INVALID), verifies the signature over signingData
 * (E_SIGNATURE_INVALID), then fills MODULUS, EXPONENT=3, SIGNATURE, Q1, Q2. Returns a new buffer.
 */
export function attachSignature(unsigned: Buffer, signature: Buffer, publicKey: SignerPublicKey, who = 'signer'): SignedSigstruct {
  parseSigstruct(unsigned); // size, headers, date encoding
  const { key, modulus } = checkSgxKey(publicKey);
  assertSignature(signingData(unsigned), signature, key, who);
  const s = bigintFromBE(signature);
  const { q1, q2 } = computeQ1Q2(s, modulus);
  // Write into a copy of the caller's bytes so that anything outside these fields is kept.
  const out = Buffer.from(unsigned);
  const o = SIGSTRUCT_OFFSETS;
  bigintToLE(modulus).copy(out, o.modulus);
  out.writeUInt32LE(SGX_RSA_PUBLIC_EXPONENT, o.exponent);
  bigintToLE(s).copy(out, o.signature);
  bigintToLE(q1).copy(out, o.q1);
  bigintToLE(q2).copy(out, o.q2);
  return { sigstruct: out, mrsigner: mrsignerOf(modulus) };
}

/**
 * Builds and signs a SIGSTRUCT. The signer's result is always verified against its public key
 * before use. Errors: E_USAGE (bad request), E_KEY_INVALID, E_SIGNER (signer failed; a non-cconv
 * error from a custom Signer is wrapped as E_SIGNER), E_SIGNATURE_INVALID.
 */
export async function signSigstruct(options: SignSigstructOptions): Promise<SignedSigstruct> {
  const unsigned = buildUnsignedSigstruct(options);
  const data = signingData(unsigned);
  let signature: Buffer;
  let publicKey: SignerPublicKey;
  try {
    publicKey = await options.signer.publicKey();
    signature = await options.signer.sign(data);
  } catch (err) {
    if (err instanceof CconvError) throw err;
    throw new CconvError('E_SIGNER', 'signer failed', { cause: err });
  }
  return attachSignature(unsigned, signature, publicKey);
}

/** A parsed SIGSTRUCT whose signature checked out, with its MRSIGNER. */
export interface VerifiedSigstruct {
  fields: Sigstruct;
  mrsigner: string;
}

/**
 * Parses and fully checks a signed SIGSTRUCT: format (E_SIGSTRUCT_INVALID), key size and
 * exponent (E_KEY_INVALID), the RSA signature and Q1/Q2 (E_SIGNATURE_INVALID).
 */
export function verifySigstruct(sigstruct: Buffer): VerifiedSigstruct {
  const fields = parseSigstruct(sigstruct);
  if (fields.exponent !== SGX_RSA_PUBLIC_EXPONENT) {
    throw new CconvError('E_KEY_INVALID', `SIGSTRUCT exponent is ${fields.exponent}, SGX requires 3`);
  }
  const modulusBE = Buffer.from(fields.modulus).reverse();
  const { key, modulus } = checkSgxKey({ modulus: modulusBE });
  const s = bigintFromLE(fields.signature);
  assertSignature(signingData(sigstruct), Buffer.from(fields.signature).reverse(), key, 'SIGSTRUCT');
  const { q1, q2 } = computeQ1Q2(s, modulus);
  if (bigintFromLE(fields.q1) !== q1 || bigintFromLE(fields.q2) !== q2) {
    throw new CconvError('E_SIGNATURE_INVALID', 'SIGSTRUCT Q1/Q2 do not match its signature');
  }
  return { fields, mrsigner: mrsignerOf(modulus) };
}
