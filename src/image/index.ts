/** The image model: digests, media types, validation, platforms, layers and the `Image` view. */
export type { Compression, ContainerConfig, Descriptor, Digest, ImageConfig, Index, Manifest, Platform } from './types.ts';
export { MediaType } from './types.ts';
export type { Image, Layer, UncompressedOptions } from './image.ts';
export type { DigestAlgorithm, VerifierOptions } from './digest.ts';
export { DigestVerifier, createVerifier, digestOf, isDigest, parseDigest, splitDigest } from './digest.ts';
export {
  LAYER_MEDIA_TYPES,
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  layerCompression,
  ociLayerMediaType,
  sniffCompression,
} from './media.ts';
export type { ParsedDocument } from './validate.ts';
export { parseImageDocument, parseIndex, parseJsonObject, parseManifest, validateDescriptor } from './validate.ts';
export { checkConfigMatchesManifest, layerDescriptors, parseConfig } from './config.ts';
export { DEFAULT_PLATFORM, formatPlatform, normalizePlatform, parsePlatform, platformMatches, selectManifest } from './platform.ts';
export type { DecompressorOptions, ZstdBackend } from './decompress.ts';
export { ZstdDecompressor, createDecompressor } from './decompress.ts';
export { ZstdCliDecompressor, zstdCliAvailable } from './zstd-cli.ts';
export { ZstdBlockSplitter } from './zstd-split.ts';
export type { DecodeSpec } from './decode-stream.ts';
export { decodeChain, decodeStages, verifyDiffId } from './decode-stream.ts';
export type { LayerSource } from './layer.ts';
export { createLayer } from './layer.ts';
export { chain, mapStreamErrors, readAll } from './streams.ts';
export type { BlobOpener, ImageParts, ResolvedManifest } from './resolve.ts';
export { MAX_DOCUMENT_BYTES, imageFromManifest, readBlob, resolveDescriptor } from './resolve.ts';
