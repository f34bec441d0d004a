/**
 * The key broker's audit records: one per connection, whatever happened. A record names the peer,
 * the enclave identity (verified, or as the unverified quote claims it), the TCB status, the
 * decision and its reason. It never holds key bytes; `keyLabel` is what `decide` calls the key.
 */
import type { ReportFacts } from './report.ts';

/** Where a refused connection failed: TLS, an RA-TLS certificate check, a quote check, or the decision. */
export type AuditStage = 'tls' | 'request' | 'certificate' | 'evidence' | 'report-data' | 'collateral' | 'quote' | 'decision';

/** One audit record; keys appear in this order in auditLine. */
export interface AuditRecord {
  /** ISO 8601 UTC. */
  time: string;
  /** `address:port` of the client. */
  peer: string;
  decision: 'release' | 'refuse';
  /** Why, in words; for a release, which rule released. */
  reason: string;
  /** For a refusal: the stage that refused. */
  stage?: AuditStage;
  /** For a refused quote: the quote check that failed (quote.ts). */
  check?: string;
  /** True when the identity fields below come from a verified quote; false when only claimed. */
  verified?: boolean;
  /** Which RA-TLS extension carried the quote. */
  evidence?: 'tcg-dice' | 'legacy';
  mrenclave?: string;
  mrsigner?: string;
  isvProdId?: number;
  isvSvn?: number;
  debug?: boolean;
  tcbStatus?: string;
  advisoryIds?: string[];
  keyLabel?: string;
}

const ORDER: Array<keyof AuditRecord> = ['time', 'peer', 'decision', 'reason', 'stage', 'check', 'verified', 'evidence', 'mrenclave', 'mrsigner', 'isvProdId', 'isvSvn', 'debug', 'tcbStatus', 'advisoryIds', 'keyLabel'];

/** The record as one JSON line (no trailing newline), keys in a fixed order, absent ones left out. */
export function auditLine(record: AuditRecord): string {
  const out: Record<string, unknown> = {};
  for (const key of ORDER) if (record[key] !== undefined) out[key] = record[key];
  return JSON.stringify(out);
}

/** The identity fields of an audit record from a report's facts. */
export function identityFields(facts: ReportFacts, verified: boolean): Pick<AuditRecord, 'verified' | 'mrenclave' | 'mrsigner' | 'isvProdId' | 'isvSvn' | 'debug'> {
  return { verified, mrenclave: facts.mrenclave, mrsigner: facts.mrsigner, isvProdId: facts.isvProdId, isvSvn: facts.isvSvn, debug: facts.debug };
}
