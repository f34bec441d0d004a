/** Usage of `cconv build SOURCE`; the command itself is in ../commands/build.ts. */
import type { CommandUsage } from '../main.ts';
import { limitOptions } from '../options/limits.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv build`. Its option sets come from modules that import the library: loaded when it is parsed. */
export const buildUsage: CommandUsage = {
  command: 'build <source>',
  describe: 'Convert an image into a signed SGX confidential image and write or push it',
  builder: async (y) => {
    const [{ enclaveOptions }, { signerOptions }, { buildOptions }] = await Promise.all([import('../options/enclave.ts'), import('../options/signer.ts'), import('../options/build.ts')]);
    return limitOptions(buildOptions(registryFlags(signerOptions(enclaveOptions(y.positional('source', { type: 'string', describe: 'source image (myapp:latest means the local Docker daemon)' }))))));
  },
  load: async () => (await import('../commands/build.ts')).buildCommand,
};
