/** Usage of `cconv sign IMAGE --output-dir DIR`; the command itself is in ../commands/sign.ts. */
import type { CommandUsage } from '../main.ts';
import { limitOptions } from '../options/limits.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv sign`. Its enclave and signer options come from modules that import the library: loaded when it is parsed. */
export const signUsage: CommandUsage = {
  command: 'sign <image>',
  describe: 'Measure and sign the confidential version of an image; write its .manifest.sgx, .sig and argv file',
  builder: async (y) => {
    const [{ enclaveOptions }, { signerOptions }] = await Promise.all([import('../options/enclave.ts'), import('../options/signer.ts')]);
    return limitOptions(registryFlags(signerOptions(enclaveOptions(y.positional('image', { type: 'string', describe: 'image reference' })))))
      .option('output-dir', { alias: 'o', type: 'string', demandOption: true, describe: 'directory to write the files to (created if missing)' })
      .option('name', { type: 'string', default: 'app', describe: 'base name of the manifest and signature files' });
  },
  load: async () => (await import('../commands/sign.ts')).signCommand,
};
