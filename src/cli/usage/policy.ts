/** Usage of `cconv policy check`; the command itself is in ../commands/policy.ts. */
import type { CommandGroup } from '../main.ts';

const load = () => import('../commands/policy.ts');

/** The `policy` command group. */
export const policyUsage: CommandGroup = {
  command: 'policy',
  describe: 'Release policies: check an Azure SKR policy against attestation claims',
  subcommands: [
    {
      command: 'check',
      describe: 'Check whether an Azure SKR release policy releases the key for the given attestation claims',
      builder: (y) =>
        y
          .option('policy', { type: 'string', demandOption: true, describe: 'release policy (JSON, e.g. azure-skr-policy.json)' })
          .option('claims', { type: 'string', demandOption: true, describe: 'attestation claims: the JSON payload of an MAA token, or the token itself (its signature is NOT checked)' }),
      load: async () => (await load()).policyCheckCommand,
    },
  ],
};
