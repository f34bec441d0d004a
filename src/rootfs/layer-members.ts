/** The one way cconv walks a layer's tar: open it uncompressed, yield its members, clean up. */
import type { Layer } from '../image/image.ts';
import { translateLayerError } from './errors.ts';
import { readTar, type TarEntry } from './tar-reader.ts';

/**
 * Yields the members of `layer`'s uncompressed tar in order. Opening and parsing errors become
 * CconvErrors naming the layer (translateLayerError); errors the consumer meets while reading a
 * member's body are its own to translate. The layer stream is destroyed however the iteration
 * ends (completed, failed, or left early by the consumer), so no descriptor or socket leaks.
 */
export async function* layerMembers(layer: Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>, onBytes?: (n: number) => void): AsyncGenerator<TarEntry> {
  let src;
  try {
    src = await layer.openUncompressed();
  } catch (err) {
    throw translateLayerError(err, layer);
  }
  try {
    for await (const e of readTar(src, onBytes)) yield e;
  } catch (err) {
    throw translateLayerError(err, layer);
  } finally {
    src.destroy();
  }
}
