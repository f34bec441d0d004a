/**
 * Reading blobs from local files: open first (so a missing file fails before any stream exists),
 * then stream with large chunks; fs errors become CconvErrors. Only regular files are read: a
 * FIFO, device or directory where a blob should be would block a read forever or mean nothing.
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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

/** What a non-regular file is, for messages ("a FIFO", "a directory", ...). */
export function fileKind(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isDirectory()) return 'a directory';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/**
 * Opens `path` for reading only when it is a regular file (a symlink to one is followed).
 * O_NONBLOCK lets opening a FIFO return at once instead of waiting for a writer, and fstat on the
 * opened descriptor judges the very file that will be read (no stat-then-open race); for a regular
 * file O_NONBLOCK changes nothing. Otherwise throws `notRegular(kind)` after closing the
 * descriptor. fs errors (ENOENT, EACCES, ...) are thrown as they come, for the caller to map. The
 * caller closes the returned handle. Returns the handle with its stats.
 */
export async function openRegularFile(path: string, notRegular: (kind: string) => CconvError): Promise<{ handle: FileHandle; info: Stats }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  let info: Stats;
  try {
    info = await handle.stat();
  } catch (err) {
    await handle.close();
    throw err;
  }
  if (!info.isFile()) {
    await handle.close();
    throw notRegular(fileKind(info));
  }
  return { handle, info };
}

/**
 * Opens `path` as the raw content of `descriptor`: E_BLOB_MISSING when the file does not exist
 * or is not a regular file (a FIFO, a directory: no blob is there to read), E_IO for other fs
 * errors (also mid-stream). The returned stream owns the file descriptor and closes it at end,
 * on error, or when destroyed.
 */
export async function openFileBlob(path: string, descriptor: Descriptor): Promise<Readable> {
  let handle;
  try {
    ({ handle } = await openRegularFile(path, (kind) => notRegularBlob(descriptor, path, kind)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CconvError('E_BLOB_MISSING', `blob ${descriptor.digest} (${descriptor.mediaType}) is missing`, { cause: err });
    }
    throw wrapIoError(err, `opening blob ${descriptor.digest}`);
  }
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK }) as unknown as Readable;
  return mapStreamErrors(stream, (err) => wrapIoError(err, `reading blob ${descriptor.digest}`));
}

/** The E_BLOB_MISSING for a blob whose file `path` is `kind` instead of a regular file. */
export function notRegularBlob(descriptor: Descriptor, path: string, kind: string): CconvError {
  return new CconvError('E_BLOB_MISSING', `blob ${descriptor.digest} (${descriptor.mediaType}): ${path} is ${kind}, not a regular file`, {
    hint: 'a blob must be a regular file; re-create the layout',
  });
}
