/**
 * Copying one image between transports, blob for blob: layers and config go first (skipped when
 * the destination has them), then the manifest exactly as read (so its digest is preserved), then
 * commit. Layers are streamed as stored (`openStored`; the destination verifies them).
 *
 * Blobs are copied up to `concurrency` at a time (capped by the destination's `concurrentBlobs`),
 * started in manifest order; a digest listed twice is copied once. Every source opens its layers
 * independently (files or separate HTTP requests), so several may stream at once. The result lists
 * blobs in manifest order, never in completion order. On the first failure (or when `signal`
 * aborts) no further blob starts, the blobs in flight are cancelled by destroying their streams and
 * awaited, then the destination is aborted once and the FIRST error is rethrown. A signal aborted
 * at any point before the commit (`options.signal`, else `options.report.signal`) makes the copy
 * fail with its E_ABORTED after the same cleanup; nothing is committed.
 */
import { Readable } from 'node:stream';
import { CconvError } from '../errors.ts';
import type { Descriptor, Digest } from '../image/types.ts';
import { abortError, asAbortError, runTask, silentReporter, throwIfAborted, type Reporter } from '../progress.ts';
import { putBlobFrom } from './put-blob.ts';
import type { ImageDestination, ImageSource, OpenOptions } from './types.ts';

/**
 * Blobs in flight by default. More lanes overlap network round trips and disk writes, but a
 * registry upload holds up to two 16 MiB chunks per lane in memory, so the default stays small.
 */
export const DEFAULT_COPY_CONCURRENCY = 3;

/** Options of `copyImage`: those of `ImageSource.open` (platform, tmpDir, signal) plus the reporter and lanes. */
export interface CopyOptions extends OpenOptions {
  report?: Reporter;
  /** Most blobs copied at once (>= 1), further capped by `ImageDestination.concurrentBlobs`; default DEFAULT_COPY_CONCURRENCY. */
  concurrency?: number;
}

/** What `copyImage` did. */
export interface CopyResult {
  manifestDigest: Digest;
  /** Digests of the blobs uploaded and of those the destination already had, each in manifest order (layers, then config). */
  copied: Digest[];
  skipped: Digest[];
}

interface PlannedBlob {
  descriptor: Descriptor;
  open: () => Promise<Readable>;
  /** The local file holding exactly the blob, if any (copied with putBlobFile when the destination has it). */
  file?: string | undefined;
  outcome?: 'copied' | 'skipped';
}

/** The number of lanes for `dst`: `requested` (default 3) capped by what the destination accepts (default 1). */
export function copyLanes(dst: Pick<ImageDestination, 'concurrentBlobs'>, requested: number = DEFAULT_COPY_CONCURRENCY): number {
  if (!Number.isInteger(requested) || requested < 1) throw new CconvError('E_USAGE', `copy concurrency must be a positive integer, not ${requested}`);
  return Math.max(1, Math.min(requested, dst.concurrentBlobs ?? 1));
}

/** Copies the image `src` resolves to (for the platform asked) into `dst` and commits it. */
export async function copyImage(src: ImageSource, dst: ImageDestination, options: CopyOptions = {}): Promise<CopyResult> {
  const report = options.report ?? silentReporter;
  const signal = options.signal ?? report.signal;
  const lanes = copyLanes(dst, options.concurrency);
  const image = await src.open(signal === undefined ? options : { ...options, signal }).catch((err: unknown) => {
    throw signal?.aborted === true ? asAbortError(signal, err) : err;
  });
  try {
    const all: PlannedBlob[] = [
      // As stored: the destination's putBlob checks digest and size, so the bytes are hashed once.
      ...image.layers.map((layer) => ({ descriptor: layer.descriptor, open: () => layer.openStored(), file: layer.blobFile })),
      { descriptor: image.manifest.config, open: async () => Readable.from([image.configBytes]) },
    ];
    // First occurrence of each digest wins (a layer listed twice is copied once).
    const blobs = all.filter((b, i) => all.findIndex((x) => x.descriptor.digest === b.descriptor.digest) === i);
    const failure = await copyBlobs(blobs, dst, lanes, report, signal);
    if (failure !== undefined) throw failure.error;
    throwIfAborted(signal); // after the last blob: no manifest, no commit
    const result: CopyResult = {
      manifestDigest: await dst.putManifest(image.manifestBytes, image.manifestMediaType),
      copied: blobs.filter((b) => b.outcome === 'copied').map((b) => b.descriptor.digest),
      skipped: blobs.filter((b) => b.outcome === 'skipped').map((b) => b.descriptor.digest),
    };
    await dst.commit();
    return result;
  } catch (err) {
    // Reached only once no putBlob is running any more (copyBlobs settles every lane first).
    await dst.abort().catch(() => {});
    throw signal?.aborted === true ? asAbortError(signal, err) : err;
  } finally {
    await image.close();
  }
}

/**
 * Runs the blobs through `lanes` workers, setting each one's `outcome`. Never rejects: returns the
 * first failure (undefined when all went through) after every lane has stopped.
 */
async function copyBlobs(blobs: PlannedBlob[], dst: ImageDestination, lanes: number, report: Reporter, signal: AbortSignal | undefined): Promise<{ error: unknown } | undefined> {
  let failure: { error: unknown } | undefined;
  const inFlight = new Set<Readable>();
  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    // Cancel the others: a destroyed content stream makes putBlob fail and clean up its partial blob.
    const cancelled = new CconvError('E_ABORTED', 'blob copy cancelled after another failure');
    for (const stream of inFlight) stream.destroy(cancelled);
  };
  const onAbort = (): void => fail(abortError(signal!));
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });

  let next = 0;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < blobs.length) {
      const blob = blobs[next++]!;
      try {
        await copyOne(blob, dst, report, inFlight, () => failure === undefined);
      } catch (err) {
        fail(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(lanes, blobs.length) }, lane));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return failure;
}

/** Copies one blob unless the destination has it; `go()` false (another lane failed) stops it before putBlob. */
async function copyOne(blob: PlannedBlob, dst: ImageDestination, report: Reporter, inFlight: Set<Readable>, go: () => boolean): Promise<void> {
  const { descriptor } = blob;
  if (await dst.hasBlob(descriptor)) {
    blob.outcome = 'skipped';
    report({ type: 'log', level: 'debug', message: `blob ${descriptor.digest} already present, skipped` });
    return;
  }
  if (!go()) return;
  await runTask(report, `copy:${descriptor.digest}`, `Copying blob ${descriptor.digest.slice(0, 19)}`, async (advance) => {
    await putBlobFrom(dst, descriptor, blob, {
      advance,
      opened: (content) => {
        if (!go()) {
          content.destroy();
          throw new CconvError('E_ABORTED', 'blob copy cancelled after another failure');
        }
        inFlight.add(content);
        return () => inFlight.delete(content);
      },
    });
  }, descriptor.size);
  blob.outcome = 'copied';
}
