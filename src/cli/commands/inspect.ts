/** `cconv inspect IMAGE`: manifest, config, layers and root-filesystem totals of an image. */
import { inspectImage, type InspectResult } from '../../index.ts';
import { parsePlatform } from '../../image/platform.ts';
import type { CommandSpec } from '../command.ts';
import { daemonFrom } from '../options/enclave.ts';
import { registryFlags, registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';
import { parseReference } from '../../transports/index.ts';
import { formatBytes } from '../render.ts';

interface InspectArgs extends RegistryArgs {
  image: string;
  platform?: string;
  files: boolean;
  tmpDir?: string;
}

/** The inspect command. */
export const inspectCommand: CommandSpec<InspectArgs, InspectResult> = {
  command: 'inspect <image>',
  describe: 'Show an image: config, platform, layers and root-filesystem totals',
  builder: (y) =>
    registryFlags(y)
      .positional('image', { type: 'string', describe: 'image reference (oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG], ...)' })
      .option('platform', { type: 'string', describe: 'platform to select from a multi-platform image (OS/ARCH[/VARIANT])', defaultDescription: 'linux/amd64' })
      .option('files', { type: 'boolean', default: false, describe: 'list every root-filesystem entry with its sha256' })
      .option('tmp-dir', { type: 'string', describe: 'directory for temporary files (a docker-archive is spooled there while read)', defaultDescription: '$TMPDIR or /tmp' }),
  stages: () => [{ id: 'flatten', title: 'Reading layers' }],
  run: async (args, report, io) =>
    inspectImage(args.image, {
      sources: { registry: await registryOptionsFrom(args, io), daemon: daemonFrom(io.env, [parseReference(args.image)]) },
      files: args.files,
      report,
      ...(args.platform !== undefined ? { platform: parsePlatform(args.platform) } : {}),
      ...(args.tmpDir !== undefined ? { tmpDir: args.tmpDir } : {}),
    }),
  human: (r) => {
    const lines = [
      `Image:      ${r.reference}`,
      `Digest:     ${r.manifestDigest}`,
      `Platform:   ${r.platform}`,
      `Entrypoint: ${JSON.stringify(r.config.entrypoint)}`,
      `Cmd:        ${JSON.stringify(r.config.cmd)}`,
      `WorkingDir: ${r.config.workingDir || '/'}`,
      `User:       ${r.config.user || '(root)'}`,
      `Env:        ${r.config.env.join(' ')}`,
      `Layers:     ${r.layers.length}`,
      ...r.layers.map((l) => `  ${l.index}  ${l.digest}  ${formatBytes(l.size)}`),
      `Root fs:    ${r.rootfs.files} files, ${r.rootfs.dirs} dirs, ${r.rootfs.symlinks} symlinks, ${r.rootfs.hardlinks} hardlinks, ${r.rootfs.other} other, ${formatBytes(r.rootfs.bytes)}`,
    ];
    for (const f of r.files ?? []) {
      const link = f.linkTarget !== undefined ? ` -> ${f.linkTarget}` : f.hardlinkTo !== undefined ? ` => ${f.hardlinkTo}` : '';
      lines.push(`${f.type.padEnd(7)} ${f.mode} ${String(f.uid).padStart(5)}:${String(f.gid).padEnd(5)} ${String(f.size).padStart(10)} ${f.sha256 ?? ''.padEnd(64)} ${f.path}${link}`);
    }
    return lines.join('\n');
  },
};
