/**
 * SGX DCAP quote verification: @phala/dcap-qvl (pure JavaScript) does the cryptography (PCK chain
 * to the root, QE report signature and hash, QE identity, ISV report signature, TCB level), and
 * this module adds the collateral checks it leaves out (collateral.ts), the TCB and debug policy,
 * and Gramine's attribute checks. The result is either the verified facts or the first check that
 * failed, by name. Checks, in order:
 *
 *   quote-format        the bytes are an SGX ECDSA-P256 quote, version 3
 *   collateral-format   the collateral has every field, CRLs parse, dates parse
 *   collateral-expired  TCB info, QE identity and both CRLs are inside their windows at `now`
 *   crl                 the CRLs are signed by the root / by the PCK CRL issuer (the PCK's CA)
 *   certificate-chain   a certificate chain of the collateral or the quote does not verify, or has expired
 *   collateral-signature TCB info or QE identity signature
 *   pck-chain           the quote carries no usable PCK certificate chain
 *   revoked             a certificate is on a CRL, or the TCB status is Revoked
 *   qe-report           QE report signature, or its hash of the attestation key
 *   qe-identity         the QE is not Intel's (MRSIGNER, ISVPRODID, attributes) or below every level
 *   quote-signature     the attestation key's signature over the header and enclave report
 *   tcb-level           FMSPC mismatch, or no TCB level of the TCB info matches the platform
 *   tcb-status          the status is not in the policy's allow-list (default: UpToDate only)
 *   debug               the enclave is a debug enclave and the policy does not allow one
 *   enclave-attributes  INIT or MODE64BIT clear, PROVISIONKEY or EINITTOKENKEY set (as Gramine)
 *   quote-verification  dcap-qvl failed with a message this module does not know
 */
import { createHash } from 'node:crypto';
import { QuoteVerifier as QvlVerifier, Quote, constants, utils } from '@phala/dcap-qvl';
import { CconvError } from '../errors.ts';
import { silentReporter, type Reporter } from '../progress.ts';
import { checkCollateralShape, checkCollateralTimes, checkCrlSignatures, type Collateral } from './collateral.ts';
import { QE_REPORT_OFFSET, REPORT_BODY_SIZE, attributeViolation, isvReport, quoteHeader, reportFacts, type ReportFacts } from './report.ts';
import { recomputeTcbStatus, type TcbStatus } from './tcb.ts';

/** Name of a verification check (see the list above). */
export type QuoteCheck =
  | 'quote-format'
  | 'collateral-format'
  | 'collateral-expired'
  | 'crl'
  | 'certificate-chain'
  | 'collateral-signature'
  | 'pck-chain'
  | 'revoked'
  | 'qe-report'
  | 'qe-identity'
  | 'quote-signature'
  | 'tcb-level'
  | 'tcb-status'
  | 'debug'
  | 'enclave-attributes'
  | 'quote-verification';

/** A quote that passed every check: the enclave's facts and the platform's TCB status. */
export interface VerifiedQuote extends ReportFacts {
  tcbStatus: TcbStatus;
  /** Intel security advisories that apply to this TCB level (platform, then QE). */
  advisoryIds: string[];
}

/** Either the verified quote or the first failed check; `claimed` is the unverified report, if readable. */
export type QuoteVerdict = { ok: true; quote: VerifiedQuote } | { ok: false; check: QuoteCheck; reason: string; claimed: ReportFacts | undefined };

/** What a verified quote must also satisfy. */
export interface QuotePolicy {
  /** Accepted TCB statuses (parseAllowTcb); default `['UpToDate']`. */
  allowTcb?: readonly TcbStatus[];
  /** Accept debug enclaves (their memory is readable by the host: never in production). */
  allowDebug?: boolean;
}

/** Options of createQuoteVerifier. */
export interface QuoteVerifierOptions extends QuotePolicy {
  /**
   * TESTS ONLY: verify against this root CA (DER) instead of Intel's pinned SGX Root CA. Refused
   * (E_USAGE) unless `insecureTestRoot` is true as well; emits a warning event when accepted.
   */
  testRootCaDer?: Uint8Array;
  insecureTestRoot?: boolean;
  /** Receives the insecure-root warning. */
  report?: Reporter;
}

/** Verifies quotes against one trust anchor and policy. */
export interface QuoteVerifier {
  verify(quote: Uint8Array, collateral: unknown, nowSecs: number): QuoteVerdict;
}

/** sha256 of the DER of Intel's SGX Root CA, pinned so that a library update cannot move the trust anchor. */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

/** The message dcap-qvl 0.3.9 throws for a debug ISV enclave (and a debug QE), as its last check. */
const QVL_DEBUG = 'Debug mode is enabled';

/** dcap-qvl 0.3.9's error messages, by the check they belong to (first match wins). */
const QVL_CHECKS: Array<[RegExp, QuoteCheck]> = [
  [/^(Failed to decode quote|Unsupported DCAP (quote version|TEE type|attestation key type)|SGX TEE quote|TDX )/, 'quote-format'],
  [/^(Failed to decode (TcbInfo|QeIdentity)|Unsupported QE Identity)/, 'collateral-format'],
  [/(issue date is in the future|^TCBInfo expired|^QE Identity expired)/, 'collateral-expired'],
  [/revoked|^TCB status is invalid: Revoked/i, 'revoked'],
  [/^Signature is invalid for (tcb_info|qe_identity)/, 'collateral-signature'],
  [/(PCK cert|PCK certificates|too short in quote)/, 'pck-chain'],
  [/(certificate chain|CaUsedAsEndEntity|expired or not yet valid)/i, 'certificate-chain'],
  [/^(Signature is invalid for qe_report|QE report hash mismatch)/, 'qe-report'],
  [/^(QE |No TCB levels found in QE Identity)/, 'qe-identity'],
  [/^ISV enclave report signature is invalid/, 'quote-signature'],
  [/(Fmspc|TCB info|No matching TCB level|No SGX components|Intel extension|CpuSvn|PceSvn)/i, 'tcb-level'],
  [/^TCB status is invalid/, 'tcb-status'],
];

/** Creates a verifier; E_USAGE for a test root without `insecureTestRoot: true`. */
export function createQuoteVerifier(options: QuoteVerifierOptions = {}): QuoteVerifier {
  const allowTcb: readonly string[] = options.allowTcb ?? ['UpToDate'];
  const allowDebug = options.allowDebug === true;
  let rootDer: Buffer;
  if (options.testRootCaDer !== undefined) {
    if (options.insecureTestRoot !== true) {
      throw new CconvError('E_USAGE', 'a test root CA was given without insecureTestRoot: true', { hint: 'quotes of real enclaves are verified against Intel’s pinned SGX Root CA; a test root is for tests only' });
    }
    rootDer = Buffer.from(options.testRootCaDer);
    (options.report ?? silentReporter)({ type: 'log', level: 'warn', message: 'INSECURE: SGX quotes are verified against a TEST root CA, not Intel’s SGX Root CA; no real enclave is attested' });
  } else {
    rootDer = Buffer.from(constants.TRUSTED_ROOT_CA_DER);
    if (createHash('sha256').update(rootDer).digest('hex') !== INTEL_SGX_ROOT_CA_SHA256) {
      throw new CconvError('E_INTERNAL', 'the Intel SGX Root CA shipped by @phala/dcap-qvl is not the pinned one');
    }
  }
  const qvl = QvlVerifier.newWithRootCa(rootDer);

  const verify = (quote: Uint8Array, collateralDoc: unknown, nowSecs: number): QuoteVerdict => {
    const claimed = isvReport(quote);
    const fail = (check: QuoteCheck, reason: string): QuoteVerdict => ({ ok: false, check, reason, claimed });
    const header = quoteHeader(quote);
    if (header === undefined || claimed === undefined) return fail('quote-format', `a quote of ${quote.length} bytes is too short`);
    if (header.version !== 3 || header.teeType !== 0) return fail('quote-format', `not an SGX quote of version 3 (version ${header.version}, TEE type ${header.teeType})`);
    if (header.attestationKeyType !== 2) return fail('quote-format', `attestation key type ${header.attestationKeyType} is not ECDSA P-256`);
    const shaped = checkCollateralShape(collateralDoc);
    if ('check' in shaped) return fail(shaped.check, shaped.reason);
    const collateral: Collateral = shaped;
    const late = checkCollateralTimes(collateral, nowSecs);
    if (late) return fail(late.check, late.reason);
    // dcap-qvl takes the PCK chain from the collateral when it has one, else from the quote.
    const extra = (collateral as { pck_certificate_chain?: unknown }).pck_certificate_chain;
    const extraChain = typeof extra === 'string' ? extra : undefined;
    let pckChain: Buffer[];
    try {
      pckChain = utils.extractCerts(extraChain !== undefined ? Buffer.from(extraChain) : Buffer.from(Quote.parse(quote).rawCertChain()));
    } catch (err) {
      return fail('pck-chain', `the quote's certification data is not a PCK certificate chain: ${(err as Error).message}`);
    }
    const crl = checkCrlSignatures(collateral, rootDer, pckChain[1]);
    if (crl) return fail(crl.check, crl.reason);

    let status: string;
    let advisoryIds: string[];
    try {
      const r = qvl.verify(quote, collateral, nowSecs);
      status = r.status;
      advisoryIds = [...r.advisory_ids];
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const qeDebug = message === QVL_DEBUG && quote.length >= QE_REPORT_OFFSET + REPORT_BODY_SIZE && reportFacts(quote, QE_REPORT_OFFSET).debug;
      if (message === QVL_DEBUG && claimed.debug && !qeDebug) {
        // Every check before dcap-qvl's last one passed (a debug QE would have failed earlier).
        if (!allowDebug) return fail('debug', 'the enclave is a debug enclave (ATTRIBUTES.DEBUG set): its memory is open to the host');
        try {
          ({ status, advisoryIds } = recomputeTcbStatus(quote, collateral.tcb_info, collateral.qe_identity, extraChain));
        } catch (e) {
          return fail('tcb-level', (e as Error).message);
        }
      } else {
        const check = QVL_CHECKS.find(([re]) => re.test(message))?.[1] ?? (message === QVL_DEBUG ? 'qe-identity' : 'quote-verification');
        return fail(check, message);
      }
    }
    if (!allowTcb.includes(status)) {
      const advisories = advisoryIds.length > 0 ? ` (advisories ${advisoryIds.join(', ')})` : '';
      return fail('tcb-status', `TCB status ${status}${advisories} is not accepted; accepted: ${allowTcb.join(', ')}`);
    }
    if (claimed.debug && !allowDebug) return fail('debug', 'the enclave is a debug enclave (ATTRIBUTES.DEBUG set)');
    const attrs = attributeViolation(claimed.attributes);
    if (attrs) return fail('enclave-attributes', attrs);
    return { ok: true, quote: { ...claimed, tcbStatus: status as TcbStatus, advisoryIds } };
  };
  return { verify };
}

/** Hints per failed check, for the CLI. */
const HINTS: Partial<Record<QuoteCheck, string>> = {
  'collateral-expired': 'fetch current collateral from a PCCS (or pass --at for a past quote)',
  'tcb-status': 'the platform needs a microcode/BIOS update; or accept this status with --allow-tcb',
  debug: 'build the enclave without debug; a debug enclave cannot be attested for real secrets',
  'quote-signature': 'the quote was modified or does not come from this platform',
};

/** The throwing form of a verdict: the verified quote, or E_QUOTE_REJECTED naming the check. */
export function acceptedQuote(verdict: QuoteVerdict): VerifiedQuote {
  if (verdict.ok) return verdict.quote;
  const hint = HINTS[verdict.check];
  throw new CconvError('E_QUOTE_REJECTED', `quote rejected by check ${verdict.check}: ${verdict.reason}`, hint === undefined ? {} : { hint });
}
