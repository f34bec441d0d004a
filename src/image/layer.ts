/**
 * Builds a `Layer` from a function that opens its blob as stored, adding in-flight verification
 * (blob digest and size, diff_id) and decompression.
 */
import type { Readable, Transform } from 'node:stream';
import { CconvError, isCconvError } from '../errors.ts';
import { createDecompressor } from './decompress.ts';
import { createVerifier } from './digest.ts';
import type { Layer } from './image.ts';
import { layerCompression } from './media.ts';
import { chain, mapStreamErrors } from './streams.ts';
import type { Compression, Descriptor, Digest } from './types.ts';

/** What `createLayer` needs. `openBlob` returns the raw stored bytes, unverified; the caller of the layer consumes or destroys them. */
export interface LayerSource {
  index: number;
  descriptor: Descriptor;
  diffId: Digest;
  /** Defaults to the compression of `descriptor.mediaType` (E_MEDIA_TYPE when unknown). */
  compression?: Compression;
  openBlob(): Promise<Readable>;
}

/** Creates a layer whose streams are verified in flight (see `Layer` in image.ts). */
export function createLayer(source: LayerSource): Layer {
  const { index, descriptor, diffId } = source;
  const compression = source.compression ?? layerCompression(descriptor.mediaType);
  const name = `layer ${index} (${descriptor.digest})`;
  const blobVerifier = (): Transform => createVerifier(descriptor.digest, { size: descriptor.size, what: name });

  return {
    index,
    descriptor,
    diffId,
    compression,
    async openCompressed() {
      return chain(await source.openBlob(), blobVerifier());
    },
    async openUncompressed() {
      const blob = await source.openBlob();
      const diffVerifier = createVerifier(diffId, { what: `${name} uncompressed content (diff_id)` });
      if (compression === 'none') {
        return descriptor.digest === diffId ? chain(blob, blobVerifier()) : chain(blob, blobVerifier(), diffVerifier);
      }
      const decoder = mapStreamErrors(createDecompressor(compression), (err) =>
        isCconvError(err)
          ? err
          : new CconvError('E_LAYER_CORRUPT', `${name}: corrupt or truncated ${compression} stream: ${err.message}`, { cause: err }),
      );
      return chain(blob, blobVerifier(), decoder, diffVerifier);
    },
  };
}
