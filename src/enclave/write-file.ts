/**
 * Atomic file writes for keys and signing artefacts: the bytes go to a temporary name in the
 * target's directory (created with the final mode, fsynced) and then take the final name, so
 * a reader never sees a partial file.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CconvError, wrapIoError } from '../errors.ts';

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /** File mode, e.g. 0o600 for a private key; applied with chmod, so the umask cannot widen or narrow it. */
  mode: number;
  /** Replace an existing file; when false an existing file is E_IO and left untouched. */
  overwrite: boolean;
}

/**
 * Writes `data` to `path` atomically. Without `overwrite` the final step is a hard link, which
 * fails if the name exists (no check-then-write race). Errors are E_IO; the temporary file is
 * always removed.
 */
export async function writeFileAtomic(path: string, data: Buffer | string, options: AtomicWriteOptions): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let tmpGone = false;
  try {
    const fh = await open(tmp, 'wx', options.mode);
    try {
      await fh.chmod(options.mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.overwrite) {
      await rename(tmp, path);
      tmpGone = true;
    } else {
      try {
        await link(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CconvError('E_IO', `refusing to overwrite existing file ${path}`, {
            hint: 'remove it or pass --force',
          });
        }
        throw err;
      }
    }
  } catch (err) {
    throw wrapIoError(err, `cannot write ${path}`);
  } finally {
    if (!tmpGone) await unlink(tmp).catch(() => {});
  }
}
