/** The key broker service: SGX quote verification, RA-TLS, Gramine's secret-provisioning server. */
export { createQuoteVerifier, acceptedQuote, INTEL_SGX_ROOT_CA_SHA256 } from './quote.ts';
export type { QuoteCheck, QuotePolicy, QuoteVerdict, QuoteVerifier, QuoteVerifierOptions, VerifiedQuote } from './quote.ts';
export { TCB_STATUSES, ALLOWABLE_TCB_STATUSES, parseAllowTcb, isTcbStatus } from './tcb.ts';
export type { TcbStatus } from './tcb.ts';
export type { Collateral } from './collateral.ts';
export type { ReportFacts } from './report.ts';
export { extractRaTlsQuote, TCG_DICE_TAGGED_EVIDENCE_OID, LEGACY_GRAMINE_QUOTE_OID, TEE_QUOTE_CBOR_TAG, PUBKEY_HASH_CLAIM } from './ratls.ts';
export type { RaTlsCheck, RaTlsResult } from './ratls.ts';
export {
  SECRET_PROVISION_REQUEST,
  SECRET_PROVISION_RESPONSE,
  REQUEST_BYTES,
  RESPONSE_PREFIX_BYTES,
  RESPONSE_HEADER_SIZE,
  ENCRYPTED_FILES_KEY_SIZE,
  isRequest,
  responseHeader,
  parseResponseHeader,
} from './protocol.ts';
export { startKbsServer } from './server.ts';
export type { KbsServer, KbsServerOptions, ReleaseDecision, VerifiedEnclave } from './server.ts';
export { auditLine } from './audit.ts';
export type { AuditRecord, AuditStage } from './audit.ts';
