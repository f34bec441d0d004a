/** `cconv keygen [PATH]`: creates an SGX enclave signing key (RSA-3072, e = 3) and prints its MRSIGNER. */
import { homedir } from 'node:os';
import { createSigningKeyFile, defaultSigningKeyPath, type GeneratedKey } from '../../index.ts';
import { runTask } from '../../progress.ts';
import type { CommandSpec } from '../command.ts';

interface KeygenArgs {
  path?: string;
  force: boolean;
}

/** The keygen command. The key itself is never printed. */
export const keygenCommand: CommandSpec<KeygenArgs, GeneratedKey> = {
  command: 'keygen [path]',
  describe: 'Create an enclave signing key (RSA-3072, e=3, mode 0600) and print its MRSIGNER',
  builder: (y) =>
    y
      .positional('path', { type: 'string', describe: 'where to write the PEM key', defaultDescription: '$XDG_CONFIG_HOME/cconv/enclave-key.pem or ~/.config/cconv/enclave-key.pem' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing key (enclaves signed with it get a new MRSIGNER)' }),
  stages: () => [{ id: 'keygen', title: 'Generating an RSA-3072 key' }],
  run: (args, report, io) => {
    const path = args.path ?? defaultSigningKeyPath(io.env, homedir());
    return runTask(report, 'keygen', 'Generating an RSA-3072 key', () => createSigningKeyFile(path, { force: args.force }));
  },
  human: (r) =>
    [
      `Wrote signing key ${r.path} (mode 0600; keep it secret and backed up)`,
      `MRSIGNER: ${r.mrsigner}`,
    ].join('\n'),
};
