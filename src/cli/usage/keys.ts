/** Usage of `cconv keys gen-broker|open`; the commands themselves are in ../commands/keys.ts. */
import type { CommandGroup } from '../main.ts';

const load = () => import('../commands/keys.ts');

/** The `keys` command group. */
export const keysUsage: CommandGroup = {
  command: 'keys',
  describe: 'Key broker side of key envelopes: gen-broker, open',
  subcommands: [
    {
      command: 'gen-broker',
      describe: 'Create a key broker X25519 key pair: DIR/broker.key (secret, mode 0600) and DIR/broker.pub',
      builder: (y) =>
        y
          .option('out', { type: 'string', demandOption: true, describe: 'directory to write broker.key and broker.pub into (created, mode 0700, if missing)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace existing key files (envelopes sealed to the old key can no longer be opened)' }),
      load: async () => (await load()).genBrokerCommand,
    },
    {
      command: 'open',
      describe: 'Recover the data key from a key envelope with the broker secret key',
      builder: (y) =>
        y
          .option('envelope', { type: 'string', demandOption: true, describe: 'key envelope (JSON) from the build' })
          .option('broker-key', { type: 'string', demandOption: true, describe: 'broker secret key file (broker.key)' })
          .option('out', { type: 'string', describe: 'write the 16-byte data key here (mode 0600)' })
          .option('print', { type: 'boolean', default: false, describe: 'print the data key as hex on stdout (INSECURE: it lands in terminals and logs)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace an existing --out file' }),
      load: async () => (await load()).openCommand,
    },
  ],
};
