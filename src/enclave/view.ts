/**
 * JSON-friendly views of a parsed SIGSTRUCT for `cconv sigstruct view`. Field names are
 * Gramine's (snake_case); byte strings are lowercase hex; 8/16/32-bit integers are numbers;
 * 64-bit integers are `0x`-prefixed lowercase hex strings (JSON numbers cannot hold them).
 */
import { createHash } from 'node:crypto';
import { formatSigstructDate } from './date.ts';
import { SGX_FLAGS_DEBUG, type Sigstruct } from './sigstruct.ts';

/** Every SIGSTRUCT field, named as in Gramine's sigstruct.py, plus the derived identities. */
export interface SigstructJson {
  header: string;
  vendor: number;
  date_year: number;
  date_month: number;
  date_day: number;
  header2: string;
  swdefined: number;
  modulus: string;
  exponent: number;
  signature: string;
  misc_select: number;
  misc_mask: number;
  attribute_flags: string;
  attribute_xfrms: string;
  attribute_flags_mask: string;
  attribute_xfrm_mask: string;
  enclave_hash: string;
  isv_prod_id: number;
  isv_svn: number;
  q1: string;
  q2: string;
  /** `YYYY-MM-DD`. */
  date: string;
  /** sha256 of the little-endian modulus. */
  mr_signer: string;
  mr_enclave: string;
  debug_enclave: boolean;
}

const hex64 = (v: bigint) => `0x${v.toString(16)}`;
const hex32 = (v: number) => `0x${v.toString(16)}`;

/** MRSIGNER of a parsed SIGSTRUCT: sha256 of its MODULUS bytes (little-endian), hex. */
export function sigstructMrsigner(f: Sigstruct): string {
  return createHash('sha256').update(f.modulus).digest('hex');
}

/** Every field of `f` in JSON-friendly form (see the module comment). */
export function sigstructToJson(f: Sigstruct): SigstructJson {
  return {
    header: f.header.toString('hex'),
    vendor: f.vendor,
    date_year: f.date.year,
    date_month: f.date.month,
    date_day: f.date.day,
    header2: f.header2.toString('hex'),
    swdefined: f.swdefined,
    modulus: f.modulus.toString('hex'),
    exponent: f.exponent,
    signature: f.signature.toString('hex'),
    misc_select: f.miscSelect,
    misc_mask: f.miscMask,
    attribute_flags: hex64(f.attributeFlags),
    attribute_xfrms: hex64(f.attributeXfrm),
    attribute_flags_mask: hex64(f.attributeFlagsMask),
    attribute_xfrm_mask: hex64(f.attributeXfrmMask),
    enclave_hash: f.enclaveHash.toString('hex'),
    isv_prod_id: f.isvProdId,
    isv_svn: f.isvSvn,
    q1: f.q1.toString('hex'),
    q2: f.q2.toString('hex'),
    date: formatSigstructDate(f.date),
    mr_signer: sigstructMrsigner(f),
    mr_enclave: f.enclaveHash.toString('hex'),
    debug_enclave: (f.attributeFlags & SGX_FLAGS_DEBUG) !== 0n,
  };
}

/** The summary `gramine-sgx-sigstruct-view --verbose --output-format json` prints, same keys and order. */
export interface SigstructSummary {
  mr_signer: string;
  mr_enclave: string;
  isv_prod_id: number;
  isv_svn: number;
  attribute_flags: string;
  attribute_xfrms: string;
  misc_select: string;
  attribute_flags_mask: string;
  attribute_xfrm_mask: string;
  misc_mask: string;
  date: string;
  debug_enclave: boolean;
}

/** The gramine-sgx-sigstruct-view summary of `f` (all integers above 16 bits as `0x` hex). */
export function sigstructSummary(f: Sigstruct): SigstructSummary {
  return {
    mr_signer: sigstructMrsigner(f),
    mr_enclave: f.enclaveHash.toString('hex'),
    isv_prod_id: f.isvProdId,
    isv_svn: f.isvSvn,
    attribute_flags: hex64(f.attributeFlags),
    attribute_xfrms: hex64(f.attributeXfrm),
    misc_select: hex32(f.miscSelect),
    attribute_flags_mask: hex64(f.attributeFlagsMask),
    attribute_xfrm_mask: hex64(f.attributeXfrmMask),
    misc_mask: hex32(f.miscMask),
    date: formatSigstructDate(f.date),
    debug_enclave: (f.attributeFlags & SGX_FLAGS_DEBUG) !== 0n,
  };
}
