/** Usage of `cconv pf encrypt|decrypt|info`; the commands themselves are in ../commands/pf.ts. */
import type { Argv } from 'yargs';
import type { CommandGroup } from '../main.ts';

const load = () => import('../commands/pf.ts');

/** `--key HEX` / `--key-file FILE` on a pf subcommand (a missing key is checked in run: E_USAGE). */
function keyOptions(y: Argv): Argv {
  return y
    .option('key', { type: 'string', describe: 'wrap key as 32 hex digits (visible to other users in the process list: prefer --key-file)' })
    .option('key-file', { type: 'string', describe: 'wrap key file: 16 raw bytes or 32 hex digits' })
    .conflicts('key', 'key-file');
}

/** The `pf` command group. */
export const pfUsage: CommandGroup = {
  command: 'pf',
  describe: 'Gramine protected files: encrypt, decrypt, info (like gramine-sgx-pf-crypt)',
  subcommands: [
    {
      command: 'encrypt <input> <output>',
      describe: 'Encrypt a file into a Gramine protected file bound to an enclave path',
      builder: (y) =>
        keyOptions(y)
          .positional('input', { type: 'string', describe: 'plaintext file' })
          .positional('output', { type: 'string', describe: 'protected file to write' })
          .option('path', { type: 'string', demandOption: true, describe: 'path bound into the file: the path Gramine opens it by (the host path of the encrypted mount URI; for cconv images, the in-enclave path)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace an existing output' }),
      load: async () => (await load()).pfEncryptCommand,
    },
    {
      command: 'decrypt <input> <output>',
      describe: 'Decrypt and verify a Gramine protected file (output mode 0600)',
      builder: (y) =>
        keyOptions(y)
          .positional('input', { type: 'string', describe: 'protected file' })
          .positional('output', { type: 'string', describe: 'plaintext file to write' })
          .option('path', { type: 'string', describe: 'path the file must be bound to (required unless --no-check-path)' })
          .option('check-path', { type: 'boolean', default: true, describe: 'check the bound path (--no-check-path skips the check)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace an existing output' }),
      load: async () => (await load()).pfDecryptCommand,
    },
    {
      command: 'info <file>',
      describe: 'Show a protected file: format version, sizes, node count; bound path and plaintext size with the key',
      builder: (y) => keyOptions(y).positional('file', { type: 'string', describe: 'protected file' }),
      load: async () => (await load()).pfInfoCommand,
    },
  ],
};
