/** The one way cconv walks a layer's tar: open it uncompressed, yield its members, clean up. */
import type { Layer } from '../image/image.ts';
import { translateLayerError } from './errors.ts';
import { readTar, type TarEntry } from './tar-reader.ts';

/**
 * Yields the members of `layer`'s uncompressed tar in order (`reread`: the layer was read and its
 * diff_id checked before, e.g. by flatten). Opening and parsing errors become
 * CconvErrors naming the layer (translateLayerError); errors the consumer meets while reading a
 * member's body are its own to translate. The layer stream is destroyed however the iteration
 * ends (completed, failed, or left early by the consumer), so no descriptor or socket leaks.
 */
export async function* layerMembers(
  layer: Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>,
  onBytes?: (n: number) => void,
  options: { reread?: boolean } = {},
): AsyncGenerator<TarEntry> {
  let src;
  try {
    // A re-read (of a layer flatten has read) skips the diff_id hash: see UncompressedOptions.
    src = await layer.openUncompressed(options.reread ? { diffId: false } : undefined);
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
