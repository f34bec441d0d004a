/** `flatten`: one streaming pass over the layers, bottom to top, building the metadata tree. */
import { CconvError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { runTask, silentReporter } from '../progress.ts';
import { LayerApplier } from './apply.ts';
import { translateLayerError } from './errors.ts';
import { EntryBudget, overLimit, resolveLimits } from './limits.ts';
import { scanLayer, type ScannedMember } from './scan.ts';
import { newRoot } from './tree.ts';
import type { FlattenOptions, Rootfs } from './types.ts';
import { RootfsView } from './view.ts';

const PROGRESS_BYTES = 1024 * 1024;
const PROGRESS_MS = 100;

function cancelled(reason: unknown): CconvError {
  return reason instanceof CconvError ? reason : new CconvError('E_ABORTED', 'flatten was cancelled', { cause: reason });
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled(signal.reason);
}

/** The error flatten throws: the caller's cancellation when it caused the failure, else `err`. */
function abortReason(err: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted ? cancelled(signal.reason) : err;
}

/**
 * Builds the flattened root filesystem of `image` by streaming each layer's uncompressed tar once,
 * bottom to top (OCI layer rules, path safety, sha256 of every file when `hash` is on, the
 * default). Each layer is read to its end so its digest checks run; on error its stream is
 * destroyed and a CconvError naming the layer is thrown. Reports task `flatten` with advances in
 * uncompressed tar bytes, batched (one per MiB or per 100 ms, whichever comes first). Holds
 * metadata only. Images over `options.limits` (types.ts FlattenLimits) are E_UNSUPPORTED: too
 * many layers before any is read, a too long path or too many members of one layer while it is
 * read, too many entries over the image before and while a layer is applied.
 */
export async function flatten(image: Pick<Image, 'layers'>, options: FlattenOptions = {}): Promise<Rootfs> {
  const hash = options.hash !== false;
  const signal = options.signal;
  const limits = resolveLimits(options.limits);
  if (image.layers.length > limits.maxLayers) {
    throw overLimit('maxLayers', `the image has ${image.layers.length} layers, over the limit of ${limits.maxLayers}`);
  }
  const root = newRoot();
  const budget = new EntryBudget(limits.maxEntries);
  await runTask(options.report ?? silentReporter, 'flatten', 'Flatten root filesystem', async (advance) => {
    let pending = 0;
    let last = Date.now();
    const onBytes = (n: number) => {
      pending += n;
      if (pending >= PROGRESS_BYTES || Date.now() - last >= PROGRESS_MS) {
        advance(pending);
        pending = 0;
        last = Date.now();
      }
    };
    // Layer i+1 is scanned (decompressed, parsed, hashed) while layer i is applied: the two
    // decoders run on two thread-pool threads and this thread hashes whichever has data, which
    // keeps both cores busy on images with more than one big layer. At most two scans run, so
    // memory holds two layers' decoder buffers and the member lists of the layers in flight.
    const stop = new AbortController();
    const cancelled = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const scans: Array<Promise<ScannedMember[]>> = [];
    const startScan = (i: number): void => {
      const layer = image.layers[i];
      if (layer === undefined || scans[i] !== undefined) return;
      const p = scanLayer(layer, { hash, onBytes, signal: cancelled, limits }).catch((err: unknown) => {
        throw translateLayerError(err, layer);
      });
      p.catch(() => {}); // observed when its turn comes, or dropped after an earlier failure
      scans[i] = p;
    };
    try {
      for (const [i, layer] of image.layers.entries()) {
        checkAbort(signal);
        startScan(i);
        startScan(i + 1);
        const members = await scans[i]!;
        options.onLayerRead?.(layer);
        const applier = new LayerApplier(root, layer, budget);
        try {
          budget.take(members.length, layer);
          for (const e of members) applier.apply(e);
        } catch (err) {
          throw translateLayerError(err, layer);
        }
        scans[i] = Promise.resolve([]); // the member list can go
      }
    } catch (err) {
      stop.abort(err);
      await Promise.allSettled(scans); // no layer stream stays open after flatten returns
      throw abortReason(err, signal);
    }
    if (pending > 0) advance(pending);
  });
  return new RootfsView(root, image.layers);
}
