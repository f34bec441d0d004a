/** The key broker service: SGX quote verification (so far). */
export { createQuoteVerifier, acceptedQuote, INTEL_SGX_ROOT_CA_SHA256 } from './quote.ts';
export type { QuoteCheck, QuotePolicy, QuoteVerdict, QuoteVerifier, QuoteVerifierOptions, VerifiedQuote } from './quote.ts';
export { TCB_STATUSES, ALLOWABLE_TCB_STATUSES, parseAllowTcb, isTcbStatus } from './tcb.ts';
export type { TcbStatus } from './tcb.ts';
export type { Collateral } from './collateral.ts';
export type { ReportFacts } from './report.ts';
