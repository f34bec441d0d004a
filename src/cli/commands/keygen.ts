/** `cconv keygen [PATH]`: creates an SGX enclave signing key (RSA-3072, e = 3) and prints its MRSIGNER. */
import { homedir } from 'node:os';
import { createSigningKeyFile, defaultSigningKeyPath, type GeneratedKey } from '../../index.ts';
import { runTask } from '../../progress.ts';
import type { CommandHandler } from '../main.ts';

interface KeygenArgs {
  path?: string;
  force: boolean;
}

/** The keygen command. The key itself is never printed. */
export const keygenCommand: CommandHandler<KeygenArgs, GeneratedKey> = {
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
