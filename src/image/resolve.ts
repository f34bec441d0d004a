/**
 * Turns a manifest (or an index, resolved to one platform's manifest) plus a blob opener into the
 * uniform `Image` view. Transports supply `openBlob`; everything read here is verified.
 */
import type { Readable } from 'node:stream';
import { CconvError } from '../errors.ts';
import { checkConfigMatchesManifest, layerDescriptors, parseConfig } from './config.ts';
import { createVerifier, digestOf } from './digest.ts';
import type { Image } from './image.ts';
import { createLayer } from './layer.ts';
import { isConfigMediaType, isIndexMediaType } from './media.ts';
import { DEFAULT_PLATFORM, formatPlatform, platformMatches, selectManifest } from './platform.ts';
import { chain, readAll } from './streams.ts';
import { MediaType, type Descriptor, type Manifest, type Platform } from './types.ts';
import { parseImageDocument } from './validate.ts';

/** Opens a blob's raw stored bytes (unverified); throws E_BLOB_MISSING when absent. */
export type BlobOpener = (descriptor: Descriptor) => Promise<Readable>;

/** Upper bound for manifests, indexes and configs read into memory. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

/** Nested indexes deeper than this are rejected (E_MANIFEST_INVALID). */
const MAX_INDEX_DEPTH = 4;

/** Reads a small blob whole, checking its digest and size (E_DIGEST_MISMATCH / E_SIZE_MISMATCH). */
export async function readBlob(openBlob: BlobOpener, descriptor: Descriptor, what: string): Promise<Buffer> {
  if (descriptor.size > MAX_DOCUMENT_BYTES) {
    throw new CconvError('E_MANIFEST_INVALID', `${what} (${descriptor.digest}) is ${descriptor.size} bytes, over the ${MAX_DOCUMENT_BYTES}-byte limit`);
  }
  const verified = chain(await openBlob(descriptor), createVerifier(descriptor.digest, { size: descriptor.size, what: `${what} (${descriptor.digest})` }));
  return readAll(verified, MAX_DOCUMENT_BYTES, () => new CconvError('E_INTERNAL', 'size check bypassed'));
}

/** A manifest picked for one platform, with its exact bytes. */
export interface ResolvedManifest {
  bytes: Buffer;
  mediaType: string;
  manifest: Manifest;
  /** True when the manifest was chosen from an index by platform. */
  fromIndex: boolean;
}

/**
 * Resolves a descriptor (manifest or index, possibly nested) to the manifest for `platform`
 * (default linux/amd64).
 */
export async function resolveDescriptor(openBlob: BlobOpener, descriptor: Descriptor, platform: Platform = DEFAULT_PLATFORM): Promise<ResolvedManifest> {
  let current = descriptor;
  for (let depth = 0; depth <= MAX_INDEX_DEPTH; depth++) {
    const what = isIndexMediaType(current.mediaType) ? 'index' : 'manifest';
    const bytes = await readBlob(openBlob, current, what);
    const doc = parseImageDocument(bytes, current.mediaType, `${what} ${current.digest}`);
    if (doc.kind === 'manifest') return { bytes, mediaType: doc.mediaType, manifest: doc.manifest, fromIndex: depth > 0 };
    current = selectManifest(doc.index, platform);
  }
  throw new CconvError('E_MANIFEST_INVALID', `indexes nested deeper than ${MAX_INDEX_DEPTH} levels`);
}

/** Inputs of `imageFromManifest`. */
export interface ImageParts {
  manifestBytes: Buffer;
  manifestMediaType: string;
  manifest: Manifest;
  openBlob: BlobOpener;
  /** The local file that holds exactly a blob, when the transport stores blobs as files. */
  blobFile?: (descriptor: Descriptor) => string;
  /** When set, the config's platform must match it (E_PLATFORM_NOT_FOUND); skip for a manifest already picked from an index. */
  requirePlatform?: Platform;
  /** Releases the transport's resources; called at most once by `Image.close()`. */
  close?: () => Promise<void>;
}

/**
 * Reads and validates the config, checks it against the manifest, and builds the `Image`.
 * The config must have an image-config media type (E_MEDIA_TYPE for artifacts).
 */
export async function imageFromManifest(parts: ImageParts): Promise<Image> {
  const { manifest, openBlob } = parts;
  if (!isConfigMediaType(manifest.config.mediaType)) {
    throw new CconvError('E_MEDIA_TYPE', `manifest config has media type ${JSON.stringify(manifest.config.mediaType)}: not a container image`, {
      hint: `expected ${MediaType.OciConfig} or ${MediaType.DockerConfig}`,
    });
  }
  const configBytes = await readBlob(openBlob, manifest.config, 'config');
  const config = parseConfig(configBytes);
  checkConfigMatchesManifest(manifest, config);
  const platform: Platform = { os: config.os, architecture: config.architecture };
  if (config.variant !== undefined) platform.variant = config.variant;
  if (typeof config['os.version'] === 'string') platform['os.version'] = config['os.version'];
  if (parts.requirePlatform !== undefined && !platformMatches(parts.requirePlatform, platform)) {
    throw new CconvError('E_PLATFORM_NOT_FOUND', `image is for ${formatPlatform(platform)}, not ${formatPlatform(parts.requirePlatform)}`, {
      hint: `select the image's platform with --platform ${formatPlatform(platform)}`,
    });
  }
  const layers = layerDescriptors(manifest).map((descriptor, index) =>
    createLayer({
      index,
      descriptor,
      diffId: config.rootfs.diff_ids[index]!,
      openBlob: () => openBlob(descriptor),
      ...(parts.blobFile ? { blobFile: parts.blobFile(descriptor) } : {}),
    }),
  );
  let closed: Promise<void> | undefined;
  return {
    manifestBytes: parts.manifestBytes,
    manifestDigest: digestOf(parts.manifestBytes),
    manifestMediaType: parts.manifestMediaType,
    manifest,
    configBytes,
    config,
    platform,
    layers,
    close() {
      closed ??= parts.close ? parts.close() : Promise.resolve();
      return closed;
    },
  };
}
