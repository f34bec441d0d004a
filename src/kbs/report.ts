/**
 * The SGX structures inside an ECDSA (DCAP) quote, version 3, read by offset (Intel SGX ECDSA
 * Quote Library API, "Quote Format"; Gramine's sgx_arch.h / sgx_attest.h):
 *
 *   0    quote header, 48 bytes: version u16 LE (3), attestation key type u16 (2 = ECDSA P-256),
 *        TEE type u32 (0 = SGX), QE SVN, PCE SVN, QE vendor id (16), user data (20)
 *   48   ISV enclave report body, 384 bytes (below)
 *   432  signature data length u32, then ECDSA signature (64), attestation key (64),
 *   564  QE report body (384), QE report signature (64), QE auth data, certification data
 *
 * Report body: CPUSVN 0..16, MISCSELECT 16..20, ATTRIBUTES 48..64 (flags u64 LE, then XFRM u64),
 * MRENCLAVE 64..96, MRSIGNER 128..160, ISVPRODID u16 at 256, ISVSVN u16 at 258, REPORTDATA 320..384.
 * These parsers only read bytes; nothing here says the quote is genuine (quote.ts does).
 */

/** Size of a quote header. */
export const QUOTE_HEADER_SIZE = 48;
/** Size of an SGX report body. */
export const REPORT_BODY_SIZE = 384;
/** Offset of the ISV enclave report body in a quote. */
export const ISV_REPORT_OFFSET = QUOTE_HEADER_SIZE;
/** Offset of the QE report body in a version 3 quote. */
export const QE_REPORT_OFFSET = QUOTE_HEADER_SIZE + REPORT_BODY_SIZE + 4 + 64 + 64;
/** Gramine's sizeof(sgx_quote_t): header, report body and the signature length; no quote is shorter. */
export const MIN_QUOTE_SIZE = QUOTE_HEADER_SIZE + REPORT_BODY_SIZE + 4;
/** Gramine's SGX_QUOTE_MAX_SIZE. */
export const MAX_QUOTE_SIZE = 8192;

/** SGX ATTRIBUTES.FLAGS bits (Intel SDM vol. 3D, SECS). */
export const SgxFlags = {
  init: 0x01n,
  debug: 0x02n,
  mode64bit: 0x04n,
  provisionKey: 0x10n,
  einittokenKey: 0x20n,
} as const;

/** What an enclave report says about the enclave; hex is lowercase. */
export interface ReportFacts {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  /** ATTRIBUTES as the 16 bytes appear in the report (flags u64 LE, XFRM u64 LE). */
  attributes: string;
  /** ATTRIBUTES.FLAGS has DEBUG set. */
  debug: boolean;
  /** The 64 bytes of REPORTDATA. */
  reportData: string;
}

/** The quote header's fixed fields. */
export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
}

/** Reads the header; `undefined` when the quote is shorter than Gramine's minimum. */
export function quoteHeader(quote: Uint8Array): QuoteHeader | undefined {
  if (quote.length < MIN_QUOTE_SIZE) return undefined;
  const b = Buffer.from(quote.buffer, quote.byteOffset, quote.byteLength);
  return { version: b.readUInt16LE(0), attestationKeyType: b.readUInt16LE(2), teeType: b.readUInt32LE(4) };
}

/** The facts of the report body at `offset`; the caller checks that 384 bytes are there. */
export function reportFacts(bytes: Uint8Array, offset: number): ReportFacts {
  if (offset < 0 || offset + REPORT_BODY_SIZE > bytes.length) throw new RangeError('report body out of range');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset + offset, REPORT_BODY_SIZE);
  const flags = b.readBigUInt64LE(48);
  return {
    mrenclave: b.subarray(64, 96).toString('hex'),
    mrsigner: b.subarray(128, 160).toString('hex'),
    isvProdId: b.readUInt16LE(256),
    isvSvn: b.readUInt16LE(258),
    attributes: b.subarray(48, 64).toString('hex'),
    debug: (flags & SgxFlags.debug) !== 0n,
    reportData: b.subarray(320, 384).toString('hex'),
  };
}

/** The ISV enclave's report in a quote, or undefined when the quote is too short to hold one. */
export function isvReport(quote: Uint8Array): ReportFacts | undefined {
  return quote.length < MIN_QUOTE_SIZE ? undefined : reportFacts(quote, ISV_REPORT_OFFSET);
}

/**
 * Gramine's sanity checks of the enclave's ATTRIBUTES.FLAGS besides DEBUG
 * (tools/sgx/common/quote.c, verify_quote_body_enclave_attributes): INIT and MODE64BIT set,
 * PROVISIONKEY and EINITTOKENKEY clear. Returns the first violation, or undefined.
 */
export function attributeViolation(attributesHex: string): string | undefined {
  const flags = Buffer.from(attributesHex, 'hex').readBigUInt64LE(0);
  if ((flags & SgxFlags.init) === 0n) return 'the INIT bit of the enclave attributes is not set';
  if ((flags & (SgxFlags.provisionKey | SgxFlags.einittokenKey)) !== 0n) return 'the enclave has the PROVISIONKEY or EINITTOKENKEY attribute';
  if ((flags & SgxFlags.mode64bit) === 0n) return 'the enclave is not a 64-bit enclave (MODE64BIT clear)';
  return undefined;
}
