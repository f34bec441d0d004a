/**
 * Reading blobs from local files: open first (so a missing file fails before any stream exists),
 * then stream with large chunks; fs errors become CconvErrors.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CconvError, wrapIoError } from '../errors.ts';
import { splitDigest } from '../image/digest.ts';
import { mapStreamErrors } from '../image/streams.ts';
import type { Descriptor, Digest } from '../image/types.ts';

/** Read chunk size for blob files. */
export const READ_CHUNK = 1024 * 1024;

/** `ROOT/blobs/ALG/HEX` of an OCI layout. */
export function blobPath(root: string, digest: Digest): string {
  const { algorithm, hex } = splitDigest(digest);
  return join(root, 'blobs', algorithm, hex);
}

/**
 * Opens `path` as the raw content of `descriptor`: E_BLOB_MISSING when the file does not exist,
 * E_IO for other fs errors (also mid-stream). The returned stream owns the file descriptor and
 * closes it at end, on error, or when destroyed.
 */
export async function openFileBlob(path: string, descriptor: Descriptor): Promise<Readable> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CconvError('E_BLOB_MISSING', `blob ${descriptor.digest} (${descriptor.mediaType}) is missing`, { cause: err });
    }
    throw wrapIoError(err, `opening blob ${descriptor.digest}`);
  }
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK }) as unknown as Readable;
  return mapStreamErrors(stream, (err) => wrapIoError(err, `reading blob ${descriptor.digest}`));
}
