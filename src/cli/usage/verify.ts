/** Usage of `cconv verify IMAGE`; the command itself is in ../commands/verify.ts. */
import type { CommandUsage } from '../main.ts';
import { limitOptions } from '../options/limits.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv verify`. */
export const verifyUsage: CommandUsage = {
  command: 'verify <image>',
  describe: 'Verify a confidential image: signature, MRENCLAVE recomputed from its own files, trusted files, labels',
  builder: (y) =>
    limitOptions(registryFlags(y.positional('image', { type: 'string', describe: 'the confidential image (any reference form)' })))
      .option('platform', { type: 'string', describe: 'platform to pick from a multi-platform image', defaultDescription: 'linux/amd64' })
      .option('tmp-dir', { type: 'string', describe: 'directory for temporary files' })
      .option('expect-mrenclave', { type: 'string', describe: 'fail unless MRENCLAVE is this (hex)' })
      .option('expect-mrsigner', { type: 'string', describe: 'fail unless MRSIGNER is this (hex)' })
      .option('attest-key', { type: 'string', describe: 'also verify the sigstore attestations stored with the image (docker:// only) against this public key' }),
  load: async () => (await import('../commands/verify.ts')).verifyCommand,
};
