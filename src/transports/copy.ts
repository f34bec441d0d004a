/**
 * Copying one image between transports, blob for blob: layers and config go first (skipped when
 * the destination has them), then the manifest exactly as read (so its digest is preserved), then
 * commit. Any failure aborts the destination. Layers are streamed as stored (`openStored`; the destination verifies them).
 */
import { Readable, Transform } from 'node:stream';
import { chain } from '../image/streams.ts';
import type { Digest } from '../image/types.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import type { ImageDestination, ImageSource, OpenOptions } from './types.ts';

/** Options of `copyImage`: those of `ImageSource.open` (platform, tmpDir, signal) plus the reporter. */
export interface CopyOptions extends OpenOptions {
  report?: Reporter;
}

/** What `copyImage` did. */
export interface CopyResult {
  manifestDigest: Digest;
  /** Digests of the blobs uploaded and of those the destination already had. */
  copied: Digest[];
  skipped: Digest[];
}

/** Copies the image `src` resolves to (for the platform asked) into `dst` and commits it. */
export async function copyImage(src: ImageSource, dst: ImageDestination, options: CopyOptions = {}): Promise<CopyResult> {
  const report = options.report ?? silentReporter;
  const image = await src.open(options);
  const result: CopyResult = { manifestDigest: image.manifestDigest, copied: [], skipped: [] };
  try {
    const blobs = [
      // As stored: the destination's putBlob checks digest and size, so the bytes are hashed once.
      ...image.layers.map((layer) => ({ descriptor: layer.descriptor, open: () => layer.openStored() })),
      { descriptor: image.manifest.config, open: async () => Readable.from([image.configBytes]) },
    ];
    for (const { descriptor, open } of blobs) {
      if (result.copied.includes(descriptor.digest) || result.skipped.includes(descriptor.digest)) continue;
      if (await dst.hasBlob(descriptor)) {
        result.skipped.push(descriptor.digest);
        report({ type: 'log', level: 'debug', message: `blob ${descriptor.digest} already present, skipped` });
        continue;
      }
      await runTask(report, `copy:${descriptor.digest}`, `Copying blob ${descriptor.digest.slice(0, 19)}`, async (advance) => {
        // A counting pass-through (a 'data' listener would start the flow before putBlob reads).
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            advance(chunk.length);
            cb(null, chunk);
          },
        });
        await dst.putBlob(descriptor, chain(await open(), counter));
      }, descriptor.size);
      result.copied.push(descriptor.digest);
    }
    const digest = await dst.putManifest(image.manifestBytes, image.manifestMediaType);
    result.manifestDigest = digest;
    await dst.commit();
    return result;
  } catch (err) {
    await dst.abort().catch(() => {});
    throw err;
  } finally {
    await image.close();
  }
}
