/**
 * Media-type classification: which descriptors are layers and how a layer blob is compressed.
 */
import { CconvError } from '../errors.ts';
import { MediaType, type Compression } from './types.ts';

/** Layer media types cconv reads, with their compression. */
export const LAYER_MEDIA_TYPES: Readonly<Record<string, Compression>> = {
  [MediaType.OciLayer]: 'none',
  [MediaType.OciLayerGzip]: 'gzip',
  [MediaType.OciLayerZstd]: 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  [MediaType.DockerLayerGzip]: 'gzip',
  [MediaType.DockerLayerForeignGzip]: 'gzip',
};

/**
 * True when `mediaType` names a layer (OCI `...image.layer...` or Docker `...image.rootfs...`),
 * known or not. Other descriptors in a manifest's `layers` (empty descriptors, artifacts) are not
 * layers and have no diff_id.
 */
export function isLayerMediaType(mediaType: string): boolean {
  return (
    mediaType.startsWith('application/vnd.oci.image.layer.') ||
    mediaType.startsWith('application/vnd.docker.image.rootfs.')
  );
}

/** The compression of a layer media type; throws E_MEDIA_TYPE for an unknown one. */
export function layerCompression(mediaType: string): Compression {
  const c = Object.hasOwn(LAYER_MEDIA_TYPES, mediaType) ? LAYER_MEDIA_TYPES[mediaType] : undefined;
  if (c === undefined) {
    throw new CconvError('E_MEDIA_TYPE', `unsupported layer media type ${JSON.stringify(mediaType)}`, {
      hint: 'cconv reads uncompressed, gzip and zstd tar layers (OCI and Docker media types)',
    });
  }
  return c;
}

/** The OCI layer media type for a compression (what cconv writes). */
export function ociLayerMediaType(compression: Compression): string {
  if (compression === 'gzip') return MediaType.OciLayerGzip;
  if (compression === 'zstd') return MediaType.OciLayerZstd;
  return MediaType.OciLayer;
}

/** True for the two image-config media types (OCI and Docker). */
export function isConfigMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OciConfig || mediaType === MediaType.DockerConfig;
}

/** True for an index or Docker manifest list media type. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

/** True for an OCI or Docker v2 schema 2 image manifest media type. */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

/**
 * Guesses a blob's compression from its first bytes (gzip 1f 8b, zstd 28 b5 2f fd), for formats
 * that do not record it (legacy `docker save` layers).
 */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
