/** Usage of `cconv kbs verify-quote`; the command itself is in ../commands/kbs.ts. */
import type { CommandGroup } from '../main.ts';

const load = () => import('../commands/kbs.ts');

/** The `kbs` command group (key broker service; preview). */
export const kbsUsage: CommandGroup = {
  command: 'kbs',
  describe: 'Key broker service (preview): verify-quote',
  subcommands: [
    {
      command: 'verify-quote',
      describe: 'Verify an SGX DCAP quote against its collateral and Intel’s SGX Root CA; print the enclave identity and TCB status',
      builder: (y) =>
        y
          .option('quote', { type: 'string', demandOption: true, describe: 'the quote (binary, as /dev/attestation/quote gives it)' })
          .option('collateral', { type: 'string', demandOption: true, describe: 'its collateral (JSON as a PCCS serves it: CRLs, TCB info, QE identity, issuer chains)' })
          .option('at', { type: 'number', describe: 'verify as of this time (Unix seconds) instead of now' })
          .option('allow-tcb', {
            type: 'string',
            describe: 'TCB statuses to accept besides UpToDate, comma-separated: SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded',
          })
          .option('allow-debug', { type: 'boolean', default: false, describe: 'accept a debug enclave (INSECURE: the host can read its memory)' }),
      load: async () => (await load()).verifyQuoteCommand,
    },
  ],
};
