/** `flatten`: one streaming pass over the layers, bottom to top, building the metadata tree. */
import { CconvError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { runTask, silentReporter } from '../progress.ts';
import { LayerApplier } from './apply.ts';
import { translateLayerError } from './errors.ts';
import { layerMembers } from './layer-members.ts';
import { newRoot } from './tree.ts';
import type { FlattenOptions, Rootfs } from './types.ts';
import { RootfsView } from './view.ts';

const PROGRESS_BYTES = 1024 * 1024;
const PROGRESS_MS = 100;

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    if (reason instanceof CconvError) throw reason;
    throw new CconvError('E_ABORTED', 'flatten was cancelled', { cause: reason });
  }
}

/**
 * Builds the flattened root filesystem of `image` by streaming each layer's uncompressed tar once,
 * bottom to top (OCI layer rules, path safety, sha256 of every file when `hash` is on, the
 * default). Each layer is read to its end so its digest checks run; on error its stream is
 * destroyed and a CconvError naming the layer is thrown. Reports task `flatten` with advances in
 * uncompressed tar bytes, batched (one per MiB or per 100 ms, whichever comes first). Holds
 * metadata only.
 */
export async function flatten(image: Pick<Image, 'layers'>, options: FlattenOptions = {}): Promise<Rootfs> {
  const hash = options.hash !== false;
  const signal = options.signal;
  const root = newRoot();
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
    for (const layer of image.layers) {
      checkAbort(signal);
      const applier = new LayerApplier(root, layer, hash);
      try {
        for await (const e of layerMembers(layer, onBytes)) {
          checkAbort(signal);
          await applier.apply(e);
        }
      } catch (err) {
        throw translateLayerError(err, layer);
      }
    }
    if (pending > 0) advance(pending);
  });
  return new RootfsView(root, image.layers);
}
