/** `cconv inspect IMAGE`: manifest, config, layers and root-filesystem totals of an image. */
import { inspectImage, type InspectResult } from '../../index.ts';
import { parsePlatform } from '../../image/platform.ts';
import type { CommandHandler } from '../main.ts';
import { daemonFrom } from '../options/enclave.ts';
import { limitsFrom, type LimitsArgs } from '../options/limits.ts';
import { registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';
import { parseReference } from '../../transports/index.ts';
import { formatBytes } from '../render.ts';

interface InspectArgs extends RegistryArgs, LimitsArgs {
  image: string;
  platform?: string;
  files: boolean;
  tmpDir?: string;
}

/** The inspect command. */
export const inspectCommand: CommandHandler<InspectArgs, InspectResult> = {
  stages: () => [{ id: 'flatten', title: 'Reading layers' }],
  run: async (args, report, io) => {
    const limits = limitsFrom(args);
    return inspectImage(args.image, {
      sources: { registry: await registryOptionsFrom(args, io), daemon: daemonFrom(io.env, [parseReference(args.image)]) },
      files: args.files,
      limits,
      report,
      ...(args.platform !== undefined ? { platform: parsePlatform(args.platform) } : {}),
      ...(args.tmpDir !== undefined ? { tmpDir: args.tmpDir } : {}),
    });
  },
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
