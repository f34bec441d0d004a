/** Usage of `cconv inspect IMAGE`; the command itself is in ../commands/inspect.ts. */
import type { CommandUsage } from '../main.ts';
import { limitOptions } from '../options/limits.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv inspect`. */
export const inspectUsage: CommandUsage = {
  command: 'inspect <image>',
  describe: 'Show an image: config, platform, layers and root-filesystem totals',
  builder: (y) =>
    limitOptions(registryFlags(y))
      .positional('image', { type: 'string', describe: 'image reference (oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG], ...)' })
      .option('platform', { type: 'string', describe: 'platform to select from a multi-platform image (OS/ARCH[/VARIANT])', defaultDescription: 'linux/amd64' })
      .option('files', { type: 'boolean', default: false, describe: 'list every root-filesystem entry with its sha256' })
      .option('tmp-dir', { type: 'string', describe: 'directory for temporary files (a docker-archive is spooled there while read)', defaultDescription: '$TMPDIR or /tmp' }),
  load: async () => (await import('../commands/inspect.ts')).inspectCommand,
};
