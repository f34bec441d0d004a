/**
 * `cconv copy SRC DST`: copies one image between any two transports (like `skopeo copy`), blob for
 * blob through `copyImage`: the manifest bytes are kept, so the digest is preserved when nothing
 * changes; blobs the destination already has are skipped; every blob is digest-checked in flight.
 * A failure aborts the destination, which then holds nothing new under the reference.
 */
import { parsePlatform } from '../../image/platform.ts';
import type { Reporter } from '../../progress.ts';
import { runTask } from '../../progress.ts';
import { copyImage, formatReference, openDestination, openSource, parseReference, type CopyOptions, type ImageReference } from '../../transports/index.ts';
import type { RegistryDestinationOptions } from '../../transports/registry/index.ts';
import type { CommandHandler } from '../main.ts';
import { daemonFrom } from '../options/enclave.ts';
import { registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';

interface CopyArgs extends RegistryArgs {
  source: string;
  destination: string;
  platform?: string;
  tmpDir?: string;
}

/** Result of `cconv copy --json`: canonical references, the manifest digest written, blob counts. */
export interface CopyCommandResult {
  source: string;
  destination: string;
  digest: string;
  /** Blobs (layers and config) uploaded, and those the destination already had. */
  copied: number;
  skipped: number;
}

/** Same registry, other repository: the destination mounts blobs from the source instead of uploading them. */
function mountSource(src: ImageReference, dst: ImageReference): string | undefined {
  return src.transport === 'docker' && dst.transport === 'docker' && src.registry === dst.registry && src.repository !== dst.repository
    ? src.repository
    : undefined;
}

/** The copy command. */
export const copyCommand: CommandHandler<CopyArgs, CopyCommandResult> = {
  stages: () => [{ id: 'write', title: 'Copying the image' }],
  cancellable: true,
  run: async (args, report, io) => {
    const srcRef = parseReference(args.source);
    const dstRef = parseReference(args.destination);
    const registry = await registryOptionsFrom(args, io);
    const daemon = daemonFrom(io.env, [srcRef, dstRef]);
    const mountFrom = mountSource(srcRef, dstRef);
    const dstRegistry: RegistryDestinationOptions = mountFrom !== undefined ? { ...registry, mountFrom } : registry;
    const source = openSource(srcRef, { registry, daemon });
    const destination = openDestination(dstRef, { registry: dstRegistry, daemon: { ...daemon, ...(args.tmpDir !== undefined ? { tmpDir: args.tmpDir } : {}) } });
    try {
      const result = await runTask(report, 'write', 'Copying the image', async (advance) => {
        // Blob tasks are reported as they are; their bytes also count towards the `write` task.
        const forward: Reporter = (e) => {
          report(e);
          if (e.type === 'advance' && e.id.startsWith('copy:')) advance(e.amount);
        };
        const options: CopyOptions = { report: forward, signal: report.signal }; // forward does not carry the signal
        if (args.platform !== undefined) options.platform = parsePlatform(args.platform);
        if (args.tmpDir !== undefined) options.tmpDir = args.tmpDir;
        return copyImage(source, destination, options);
      });
      return {
        source: formatReference(srcRef),
        destination: formatReference(dstRef),
        digest: result.manifestDigest,
        copied: result.copied.length,
        skipped: result.skipped.length,
      };
    } catch (err) {
      // copyImage aborts after a failed copy; this also covers a source that failed to open.
      await destination.abort().catch(() => {});
      throw err;
    }
  },
  human: (r) => `Copied ${r.source} to ${r.destination}\n  digest ${r.digest}\n  blobs  ${r.copied} copied, ${r.skipped} already present`,
};
