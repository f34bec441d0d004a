/**
 * Builds a `Layer` from a function that opens its blob as stored, adding in-flight verification
 * (blob digest and size, diff_id) and decompression (decode-stream.ts).
 */
import type { Readable } from 'node:stream';
import { decodeChain } from './decode-stream.ts';
import type { DecompressorOptions } from './decompress.ts';
import { createVerifier, parseDigest } from './digest.ts';
import type { Layer } from './image.ts';
import { layerCompression } from './media.ts';
import { chain } from './streams.ts';
import type { Compression, Descriptor, Digest } from './types.ts';

/** What `createLayer` needs. `openBlob` returns the raw stored bytes, unverified; the caller of the layer consumes or destroys them. */
export interface LayerSource {
  index: number;
  descriptor: Descriptor;
  diffId: Digest;
  /** Defaults to the compression of `descriptor.mediaType` (E_MEDIA_TYPE when unknown). */
  compression?: Compression;
  openBlob(): Promise<Readable>;
  /** The local file holding exactly the blob, if any (see Layer.blobFile). */
  blobFile?: string;
  /** How zstd is decoded (default: the `zstd` CLI when installed, else fzstd). */
  decode?: DecompressorOptions;
}

/** Creates a layer whose streams are verified in flight (see `Layer` in image.ts). */
export function createLayer(source: LayerSource): Layer {
  const { index, descriptor, diffId } = source;
  const compression = source.compression ?? layerCompression(descriptor.mediaType);
  const name = `layer ${index} (${descriptor.digest})`;

  return {
    index,
    descriptor,
    diffId,
    compression,
    ...(source.blobFile !== undefined ? { blobFile: source.blobFile } : {}),
    async openCompressed() {
      return chain(await source.openBlob(), createVerifier(descriptor.digest, { size: descriptor.size, what: name }));
    },
    openStored() {
      return source.openBlob();
    },
    async openUncompressed(options) {
      // Both digests are validated (E_DIGEST_INVALID) before the blob is opened.
      const spec = { compression, digest: parseDigest(descriptor.digest), size: descriptor.size, diffId: parseDigest(diffId), name };
      return decodeChain(await source.openBlob(), { ...spec, ...(source.decode ? { decompressor: source.decode } : {}) }, { diffId: options?.diffId !== false });
    },
  };
}
