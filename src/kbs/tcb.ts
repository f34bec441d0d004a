/**
 * TCB status: the names Intel's collateral uses, the key broker's policy over them, and the status
 * of a quote recomputed from its collateral (needed only for debug enclaves, whose quotes
 * @phala/dcap-qvl 0.3.9 refuses after it has computed, but before it returns, their status).
 */
import { Quote, TcbInfo, utils } from '@phala/dcap-qvl';
import { CconvError } from '../errors.ts';
import { QE_REPORT_OFFSET, reportFacts } from './report.ts';

/** TCB statuses of Intel's TCB info and QE identity (v3), best first. */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

/** One TCB status. */
export type TcbStatus = (typeof TCB_STATUSES)[number];

/** Statuses `--allow-tcb` may name; `Revoked` is never accepted. */
export const ALLOWABLE_TCB_STATUSES: readonly TcbStatus[] = TCB_STATUSES.filter((s) => s !== 'Revoked');

/** True for a known status name. */
export function isTcbStatus(value: string): value is TcbStatus {
  return (TCB_STATUSES as readonly string[]).includes(value);
}

/**
 * Parses an allow-list such as `SWHardeningNeeded,ConfigurationAndSWHardeningNeeded` (commas or
 * spaces). `UpToDate` is always accepted and need not be named. Unknown names and `Revoked` are
 * E_USAGE.
 */
export function parseAllowTcb(list: string | readonly string[] | undefined): TcbStatus[] {
  const names = (typeof list === 'string' ? [list] : (list ?? [])).flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '');
  const out = new Set<TcbStatus>(['UpToDate']);
  for (const name of names) {
    if (!isTcbStatus(name) || name === 'Revoked') {
      throw new CconvError('E_USAGE', `unknown or unacceptable TCB status "${name}"`, { hint: `choose from ${ALLOWABLE_TCB_STATUSES.join(', ')}` });
    }
    out.add(name);
  }
  return TCB_STATUSES.filter((s) => out.has(s));
}

/** The worse of two statuses (an unknown name counts as worst). */
export function worseStatus(a: string, b: string): string {
  const rank = (s: string) => (isTcbStatus(s) ? TCB_STATUSES.indexOf(s) : TCB_STATUSES.length);
  return rank(b) > rank(a) ? b : a;
}

interface Level<T> {
  tcb: T;
  tcbStatus: string;
  advisoryIDs?: string[];
}

/**
 * The platform-and-QE TCB status of a quote whose every other check has passed, computed the way
 * dcap-qvl does (Intel's "TCB level matching"): the first TCB info level whose PCE SVN and 16 CPU
 * SVN components the PCK certificate meets, merged with the first QE identity level whose ISVSVN
 * the QE report meets; advisories of both, platform first. Throws when no level matches.
 */
export function recomputeTcbStatus(quote: Uint8Array, tcbInfoJson: string, qeIdentityJson: string, pckChainPem?: string): { status: string; advisoryIds: string[] } {
  const chain = pckChainPem !== undefined ? Buffer.from(pckChainPem) : Buffer.from(Quote.parse(quote).rawCertChain());
  const [pck] = utils.extractCerts(chain);
  if (pck === undefined) throw new Error('no PCK certificate');
  const ext = utils.getIntelExtension(pck);
  const cpuSvn = utils.getCpuSvn(ext);
  const pceSvn = utils.getPceSvn(ext);
  const info = TcbInfo.fromJSON(tcbInfoJson);
  const platform = (info.tcbLevels as Level<{ pcesvn: number; sgxtcbcomponents: { svn: number }[] }>[]).find(
    (l) => pceSvn >= l.tcb.pcesvn && l.tcb.sgxtcbcomponents.length === cpuSvn.length && l.tcb.sgxtcbcomponents.every((c, i) => cpuSvn[i]! >= c.svn),
  );
  if (platform === undefined) throw new Error('No matching TCB level found');
  const qeSvn = reportFacts(quote, QE_REPORT_OFFSET).isvSvn;
  const qeLevels = (JSON.parse(qeIdentityJson) as { tcbLevels: Level<{ isvsvn: number }>[] }).tcbLevels;
  const qe = qeLevels.find((l) => qeSvn >= l.tcb.isvsvn);
  if (qe === undefined) throw new Error('No matching QE TCB level found');
  const advisoryIds = [...(platform.advisoryIDs ?? [])];
  for (const id of qe.advisoryIDs ?? []) if (!advisoryIds.includes(id)) advisoryIds.push(id);
  return { status: worseStatus(platform.tcbStatus, qe.tcbStatus), advisoryIds };
}
