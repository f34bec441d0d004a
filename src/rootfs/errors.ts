/** Translation of layer-reading failures into CconvError, naming the layer. */
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import { TarFormatError } from './tar-header.ts';

/**
 * CconvErrors (E_LAYER_CORRUPT, E_DIGEST_MISMATCH from the layer stream, our own path errors) pass
 * through unchanged; tar format errors and raw stream errors become E_LAYER_CORRUPT naming the layer.
 */
export function translateLayerError(err: unknown, layer: Pick<Layer, 'index' | 'descriptor'>): CconvError {
  if (err instanceof CconvError) return err;
  const what = err instanceof TarFormatError ? 'corrupt tar' : 'layer stream failed';
  const reason = err instanceof Error ? err.message : String(err);
  return new CconvError('E_LAYER_CORRUPT', `layer ${layer.index} (${layer.descriptor.digest}): ${what}: ${reason}`, { cause: err });
}
