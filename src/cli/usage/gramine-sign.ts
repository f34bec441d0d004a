/** Usage of `cconv gramine sign`; the command itself is in ../commands/gramine-sign.ts. */
import type { CommandGroup } from '../main.ts';

/** `cconv gramine ...`: Gramine-level tools. */
export const gramineUsage: CommandGroup = {
  command: 'gramine',
  describe: 'Gramine-level tools (sign a final manifest)',
  subcommands: [
    {
      command: 'sign',
      describe: 'Sign a final .manifest.sgx (as gramine-sgx-sign) and write its SIGSTRUCT',
      // The signer options come from a module that imports the library: loaded when this is parsed.
      builder: async (y) =>
        (await import('../options/signer.ts'))
          .signerOptions(y)
          .option('manifest', { type: 'string', demandOption: true, describe: 'the final .manifest.sgx, measured byte for byte as it is' })
          .option('libpal', { type: 'string', demandOption: true, describe: 'the SGX PAL of the Gramine version (…/gramine/sgx/libpal.so)' })
          .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the SIGSTRUCT file to write (e.g. app.sig)' })
          .option('gramine-version', { type: 'string', default: '1.9', describe: 'Gramine version whose layout constants to use' }),
      load: async () => (await import('../commands/gramine-sign.ts')).gramineSignCommand,
    },
  ],
};
