/** Usage of `cconv measure IMAGE`; the command itself is in ../commands/measure.ts. */
import type { CommandUsage } from '../main.ts';
import { limitOptions } from '../options/limits.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv measure`. Its enclave options come from a module that imports the library: loaded when it is parsed. */
export const measureUsage: CommandUsage = {
  command: 'measure <image>',
  describe: 'Compute the MRENCLAVE of the confidential version of an image (nothing is signed or written)',
  builder: async (y) => {
    const { enclaveOptions } = await import('../options/enclave.ts');
    return limitOptions(registryFlags(enclaveOptions(y.positional('image', { type: 'string', describe: 'image reference' }))));
  },
  load: async () => (await import('../commands/measure.ts')).measureCommand,
};
