/** Usage of `cconv copy SRC DST`; the command itself is in ../commands/copy.ts. */
import type { CommandUsage } from '../main.ts';
import { registryFlags } from '../options/registry.ts';

/** `cconv copy`. */
export const copyUsage: CommandUsage = {
  command: 'copy <source> <destination>',
  describe: 'Copy an image between transports (daemon, registry, OCI layout, docker archive), keeping its digest',
  builder: (y) =>
    registryFlags(
      y
        .positional('source', { type: 'string', describe: 'image to read (oci:DIR[:TAG], docker-archive:FILE, docker-daemon:NAME:TAG, docker://REF, NAME:TAG)' })
        .positional('destination', { type: 'string', describe: 'where to write it (same forms; a daemon destination needs a tag)' }),
    )
      .option('platform', { type: 'string', describe: 'platform to pick from a multi-platform source (only that image is copied)', defaultDescription: 'linux/amd64' })
      .option('tmp-dir', { type: 'string', describe: 'directory for temporary files (daemon export and load, archive spool)', defaultDescription: '$TMPDIR or /tmp' }),
  load: async () => (await import('../commands/copy.ts')).copyCommand,
};
