/** `writeAssembled`: stores an assembled image in a destination, in the ImageDestination call order. */
import { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../image/types.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import { putBlobFrom, type BlobSource } from '../transports/index.ts';
import type { ImageDestination } from '../transports/types.ts';
import type { AssembledImage } from './types.ts';

/** Options of `writeAssembled`. */
export interface WriteOptions {
  report?: Reporter;
}

/**
 * Writes `img` to `dest`: putBlob for each layer the destination lacks (`hasBlob`), bottom first,
 * then the config, then putManifest and commit. Any error aborts the destination and is rethrown.
 * Reports task `write` with byte advances over the blobs uploaded (total = their sizes). Returns
 * the manifest digest the destination reports. Does not close `img` (it may be written again).
 */
export async function writeAssembled(img: AssembledImage, dest: ImageDestination, options: WriteOptions = {}): Promise<Digest> {
  const report = options.report ?? silentReporter;
  try {
    const blobs: Array<BlobSource & { descriptor: Descriptor }> = [
      ...img.layers.map((l) => ({ descriptor: l.descriptor, open: () => l.open(), file: l.file })),
      { descriptor: img.configDescriptor, open: async () => Readable.from([img.configBytes]) },
    ];
    const todo: typeof blobs = [];
    const seen = new Set<string>();
    for (const b of blobs) {
      if (seen.has(b.descriptor.digest)) continue;
      seen.add(b.descriptor.digest);
      if (await dest.hasBlob(b.descriptor)) {
        report({ type: 'log', level: 'debug', message: `blob ${b.descriptor.digest} already present, skipped` });
      } else todo.push(b);
    }
    const total = todo.reduce((n, b) => n + b.descriptor.size, 0);
    return await runTask(report, 'write', 'Writing the output image', async (advance) => {
      for (const b of todo) await putBlobFrom(dest, b.descriptor, b, { advance });
      const digest = await dest.putManifest(img.manifestBytes, img.manifestMediaType);
      await dest.commit();
      return digest;
    }, total);
  } catch (err) {
    await dest.abort().catch(() => {});
    throw err;
  }
}
