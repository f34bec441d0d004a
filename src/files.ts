/**
 * Atomic file writes for every output cconv writes (keys, signatures, manifests, policies,
 * Kubernetes files): the bytes go to a temporary name in the target's directory, created with
 * the final mode and fsynced, then take the final name, so a reader never sees a partial file and
 * a failure leaves nothing half-written.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CconvError, wrapIoError } from './errors.ts';

/**
 * highWaterMark of write streams of bulk data (layers, blobs, archives): chunks buffered meanwhile
 * go out in one writev. Node's default, 16 KiB, costs a syscall and a thread-pool trip per 16 KiB:
 * spooling a 1 GB layer took 2.6x as long.
 */
export const BULK_WRITE_BUFFER = 1 << 20;

/** Options of atomicWriteFile. */
export interface AtomicWriteOptions {
  /** Final file mode (applied with chmod, so the umask does not change it). */
  mode: number;
  /** Replace an existing file (default false: an existing file is E_IO and left untouched). */
  overwrite?: boolean;
}

/**
 * Writes `data` to `path` through a temporary file in the same directory (created with `mode`,
 * fsynced), then renames it (overwrite) or hard-links it (no overwrite: fails if the name exists,
 * without a check-then-write race). A reader never sees a partial file; the temporary file is
 * always removed. Errors are E_IO.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string, options: AtomicWriteOptions): Promise<void> {
  await writeViaTemp(path, options.overwrite ?? false, async (tmp) => {
    const fh = await open(tmp, 'wx', options.mode);
    try {
      await fh.chmod(options.mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/**
 * Runs `write(tmp)` with a fresh temporary name next to `path` (the callback creates the file),
 * then gives it the final name (`commitTempFile`). The temporary file is removed on every path,
 * so a failure leaves nothing; errors other than CconvErrors become E_IO naming `path`.
 */
export async function writeViaTemp<T>(path: string, overwrite: boolean, write: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = tempNameFor(path);
  try {
    const result = await write(tmp);
    await commitTempFile(tmp, path, overwrite);
    return result;
  } catch (err) {
    throw wrapIoError(err, `cannot write ${path}`);
  } finally {
    await unlink(tmp).catch(() => {}); // gone already after a commit
  }
}

/** A fresh temporary name next to `path` (".NAME.<random>.tmp"). */
function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Gives the complete temporary file `tmp` its final name `path`: rename when `overwrite`, else a
 * hard link that fails with E_IO ("refusing to overwrite") when `path` exists (the caller then
 * removes `tmp`). Raw fs errors are thrown as they are.
 */
async function commitTempFile(tmp: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(tmp, path);
    return;
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CconvError('E_IO', `refusing to overwrite existing file ${path}`, { hint: 'remove it or pass --force' });
    }
    throw err;
  }
  await unlink(tmp).catch(() => {});
}
