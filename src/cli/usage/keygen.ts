/** Usage of `cconv keygen [PATH]`; the command itself is in ../commands/keygen.ts. */
import type { CommandUsage } from '../main.ts';

/** `cconv keygen`. */
export const keygenUsage: CommandUsage = {
  command: 'keygen [path]',
  describe: 'Create an enclave signing key (RSA-3072, e=3, mode 0600) and print its MRSIGNER',
  builder: (y) =>
    y
      .positional('path', { type: 'string', describe: 'where to write the PEM key', defaultDescription: '$XDG_CONFIG_HOME/cconv/enclave-key.pem or ~/.config/cconv/enclave-key.pem' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing key (enclaves signed with it get a new MRSIGNER)' }),
  load: async () => (await import('../commands/keygen.ts')).keygenCommand,
};
