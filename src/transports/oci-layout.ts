/**
 * OCI image layout directories as a source (image-spec image-layout.md): `oci-layout` with
 * imageLayoutVersion 1.0.0, `index.json`, and `blobs/ALG/HEX`.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CconvError, wrapIoError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { isIndexMediaType } from '../image/media.ts';
import { DEFAULT_PLATFORM, selectManifest } from '../image/platform.ts';
import { MAX_DOCUMENT_BYTES, imageFromManifest, resolveDescriptor, type BlobOpener } from '../image/resolve.ts';
import type { Descriptor, Index } from '../image/types.ts';
import { parseIndex, parseJsonObject } from '../image/validate.ts';
import { blobPath, openFileBlob, openRegularFile } from './fs-blob.ts';
import type { ImageReference, ImageSource, OpenOptions } from './types.ts';

/** The annotation holding an index entry's tag. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Reads a layout's small file `what` (oci-layout, index.json): E_IMAGE_NOT_FOUND when it is
 * missing, E_MANIFEST_INVALID when it is too large or not a regular file (a FIFO would block the
 * read forever), E_IO for other fs errors.
 */
async function readSmall(path: string, what: string, dir: string): Promise<Buffer> {
  let opened;
  try {
    opened = await openRegularFile(path, (kind) => new CconvError('E_MANIFEST_INVALID', `${dir}: ${what} is ${kind}, not a regular file`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new CconvError('E_IMAGE_NOT_FOUND', `${dir} is not an OCI image layout (no ${what})`, { cause: err });
    }
    throw wrapIoError(err, `reading ${path}`);
  }
  const { handle, info } = opened;
  try {
    if (info.size > MAX_DOCUMENT_BYTES) throw new CconvError('E_MANIFEST_INVALID', `${what} is over ${MAX_DOCUMENT_BYTES} bytes`);
    return await handle.readFile();
  } catch (err) {
    throw wrapIoError(err, `reading ${path}`);
  } finally {
    await handle.close();
  }
}

/**
 * Reads and checks a layout's `oci-layout` and `index.json`. E_IMAGE_NOT_FOUND when the directory
 * or either file is missing; E_MANIFEST_INVALID when they are malformed.
 */
export async function readLayoutIndex(dir: string): Promise<Index> {
  const info = await stat(dir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CconvError('E_IMAGE_NOT_FOUND', `OCI layout directory ${dir} does not exist`, { cause: err });
    throw wrapIoError(err, `opening ${dir}`);
  });
  if (!info.isDirectory()) throw new CconvError('E_IMAGE_NOT_FOUND', `${dir} is not a directory (an oci: reference needs an OCI layout directory)`);
  const layout = parseJsonObject(await readSmall(join(dir, 'oci-layout'), 'oci-layout file', dir), `${dir}/oci-layout`);
  if (layout.imageLayoutVersion !== '1.0.0') {
    throw new CconvError('E_MANIFEST_INVALID', `${dir}/oci-layout: imageLayoutVersion is ${JSON.stringify(layout.imageLayoutVersion)}, expected "1.0.0"`);
  }
  return parseIndex(await readSmall(join(dir, 'index.json'), 'index.json', dir), undefined, `${dir}/index.json`);
}

/** The tags (ref.name annotations) of a layout index, sorted, without duplicates. */
export function layoutTags(index: Index): string[] {
  return [...new Set(index.manifests.flatMap((d) => (d.annotations?.[REF_NAME] !== undefined ? [d.annotations[REF_NAME]] : [])))].sort();
}

/**
 * Picks the top-level descriptor for `tag` from a layout index. Several entries under one tag
 * (or, with no tag, several untagged platform manifests) are chosen between by platform.
 */
export function pickEntry(index: Index, tag: string | undefined, where: string, options: OpenOptions): Descriptor {
  const tags = layoutTags(index);
  const listed = tags.length > 0 ? tags.join(', ') : '(no tags)';
  const candidates = tag === undefined ? index.manifests : index.manifests.filter((d) => d.annotations?.[REF_NAME] === tag);
  if (candidates.length === 0) {
    const what = tag === undefined ? 'no images' : `no image tagged ${JSON.stringify(tag)}`;
    throw new CconvError('E_IMAGE_NOT_FOUND', `${where} has ${what}; tags: ${listed}`);
  }
  if (candidates.length === 1) return candidates[0]!;
  const byPlatform = candidates.every((d) => d.platform !== undefined && !isIndexMediaType(d.mediaType));
  if (byPlatform && (tag !== undefined || tags.length === 0)) return selectManifest({ manifests: candidates }, options.platform ?? DEFAULT_PLATFORM);
  if (new Set(candidates.map((d) => d.digest)).size === 1) return candidates[0]!;
  throw new CconvError('E_USAGE', `${where} holds several images; choose one by tag: ${listed}`, { hint: 'append :TAG to the oci: reference' });
}

/** An image source over an OCI layout directory. */
export class OciLayoutSource implements ImageSource {
  readonly reference: ImageReference & { transport: 'oci' };

  constructor(reference: ImageReference & { transport: 'oci' }) {
    this.reference = reference;
  }

  /** Resolves the tag (and platform, through nested indexes) and returns the image; nothing to release on close. */
  async open(options: OpenOptions = {}): Promise<Image> {
    const { dir, tag } = this.reference;
    const index = await readLayoutIndex(dir);
    const entry = pickEntry(index, tag, dir, options);
    const blobFile = (d: Descriptor) => blobPath(dir, d.digest);
    const openBlob: BlobOpener = (d) => openFileBlob(blobFile(d), d);
    const resolved = await resolveDescriptor(openBlob, entry, options.platform ?? DEFAULT_PLATFORM);
    const parts = { manifestBytes: resolved.bytes, manifestMediaType: resolved.mediaType, manifest: resolved.manifest, openBlob, blobFile };
    // A manifest picked from an index already matches; a lone manifest must be for the platform asked.
    const chosenByPlatform = resolved.fromIndex || (entry.platform !== undefined && index.manifests.length > 1);
    return imageFromManifest(chosenByPlatform ? parts : { ...parts, requirePlatform: options.platform ?? DEFAULT_PLATFORM });
  }
}
