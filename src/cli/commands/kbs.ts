/**
 * `cconv kbs verify-quote`: offline verification of one SGX DCAP quote with its collateral, as the
 * key broker does it before releasing a key. Exit 0 when the quote is valid and its TCB status is
 * accepted; 8 (E_QUOTE_REJECTED) naming the first failed check; 2 for unreadable arguments.
 * Imports src/kbs directly, not through the library index, so that no other command loads the
 * quote verifier's dependencies.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../../errors.ts';
import { acceptedQuote, createQuoteVerifier, parseAllowTcb, type VerifiedQuote } from '../../kbs/index.ts';
import type { CommandHandler } from '../main.ts';

interface VerifyQuoteArgs {
  quote: string;
  collateral: string;
  at?: number;
  allowTcb?: string;
  allowDebug: boolean;
}

/** What `kbs verify-quote` reports: the verified facts and the time they were verified at. */
export interface VerifyQuoteResult extends VerifiedQuote {
  valid: true;
  /** Unix seconds. */
  verifiedAt: number;
}

async function read(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw wrapIoError(err, `cannot read ${file}`);
  }
}

/** `kbs verify-quote`. */
export const verifyQuoteCommand: CommandHandler<VerifyQuoteArgs, VerifyQuoteResult> = {
  run: async (args) => {
    if (args.at !== undefined && (!Number.isSafeInteger(args.at) || args.at < 0)) throw new CconvError('E_USAGE', `--at ${args.at}: give a time in whole Unix seconds`);
    const allowTcb = parseAllowTcb(args.allowTcb);
    const quote = await read(args.quote);
    let collateral: unknown;
    try {
      collateral = JSON.parse((await read(args.collateral)).toString('utf8')) as unknown;
    } catch (err) {
      if (err instanceof CconvError) throw err;
      throw new CconvError('E_CONFIG', `${args.collateral}: not valid JSON: ${(err as Error).message}`);
    }
    const verifiedAt = args.at ?? Math.floor(Date.now() / 1000);
    const verifier = createQuoteVerifier({ allowTcb, allowDebug: args.allowDebug });
    return { valid: true, verifiedAt, ...acceptedQuote(verifier.verify(quote, collateral, verifiedAt)) };
  },
  human: (r) =>
    [
      `Quote verified as of ${new Date(r.verifiedAt * 1000).toISOString()}`,
      `MRENCLAVE   ${r.mrenclave}`,
      `MRSIGNER    ${r.mrsigner}`,
      `ISVPRODID   ${r.isvProdId}`,
      `ISVSVN      ${r.isvSvn}`,
      `ATTRIBUTES  ${r.attributes}${r.debug ? ' (DEBUG)' : ''}`,
      `REPORTDATA  ${r.reportData}`,
      `TCB status  ${r.tcbStatus}${r.advisoryIds.length > 0 ? ` (advisories ${r.advisoryIds.join(', ')})` : ''}`,
    ].join('\n'),
};
