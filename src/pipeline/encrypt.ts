/**
 * Encrypts the files a policy marks `encrypt`, streaming each from the image's layers into a
 * Gramine protected file. All the protected files go into ONE spool file in a private temp dir,
 * each at an offset fixed in advance from the plaintext sizes (a protected file's size depends on
 * its plaintext size only), so no file system round trip is paid per file (20,000 small files
 * took seconds to create, write and close one by one). The assembler reads each ciphertext from
 * its range of the spool; the plaintext never touches the disk.
 *
 * Throughput over many small files: a file of at most `bufferMax` bytes is read whole from its
 * content stream (the layer reader waits meanwhile) and encrypted in the background (on the thread
 * pool, by the native encoder when it is built) while the next files are read; at most
 * `concurrency` such encryptions are in flight, holding at most ENCRYPT_BUFFER_BUDGET bytes of
 * plaintext (one larger file may run alone), and a file is read only when there is room, so
 * buffered plaintext stays under max(budget, bufferMax) bytes (plus its ciphertext while it is
 * encoded). Larger files are streamed
 * into the writer as they arrive. The ciphertext files and the result do not depend on the order
 * in which encryptions finish (results are sorted by path; each file has its own name).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EncryptedFile } from '../assemble/index.ts';
import { CconvError, wrapIoError } from '../errors.ts';
import { encryptAt, encryptedSize, pfBoundPath, type PfTarget, type PfWriteOptions, type SecretKey } from '../encrypt/index.ts';
import type { SelectedFile } from '../policy/index.ts';
import { runTask, type Reporter } from '../progress.ts';
import type { Rootfs } from '../rootfs/types.ts';

/** Default `bufferMax`: files up to 4 MiB are read whole and encrypted in the background. */
export const ENCRYPT_BUFFER_MAX = 4 << 20;
/** Default `concurrency`: buffered files encrypted at once (the native encoder keeps 2 cores busy with 16 small files). */
export const ENCRYPT_CONCURRENCY = 16;
/** Plaintext bytes the buffered encryptions in flight may hold together. */
export const ENCRYPT_BUFFER_BUDGET = 16 << 20;

/** Ciphertexts written for a build; `close()` removes them. */
export interface EncryptedFiles {
  /** One per selected file, sorted by path (UTF-16 code-unit order, as before). */
  files: EncryptedFile[];
  /** Total plaintext bytes encrypted. */
  bytes: number;
  close(): Promise<void>;
}

/** Options of `encryptSelected`. */
export interface EncryptSelectedOptions {
  /** Parent of the private temp dir holding the ciphertexts (default os.tmpdir()). */
  tmpDir?: string;
  report: Reporter;
  /** Files of at most this many bytes are read whole and encrypted in the background (default ENCRYPT_BUFFER_MAX; 0 streams every file). */
  bufferMax?: number;
  /** At most this many background encryptions at once (default ENCRYPT_CONCURRENCY, at least 1; ENCRYPT_BUFFER_BUDGET bounds their bytes). */
  concurrency?: number;
}

/** Set of background jobs bounded in number and in bytes; the first failure is kept and rethrown. */
export class JobPool {
  private readonly jobs = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly budget: number,
  ) {}

  /** Throws the first failure, if any. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Resolves once fewer than `limit` jobs run and `bytes` more fit the budget (or nothing runs); throws the first failure. */
  async room(bytes: number): Promise<void> {
    this.check();
    while (this.jobs.size >= this.limit || (this.jobs.size > 0 && this.bytes + bytes > this.budget)) {
      await Promise.race(this.jobs);
      this.check();
    }
  }

  /** Starts tracking `job`, holding `bytes`; its rejection becomes the pool's failure (first one wins). */
  add(job: Promise<void>, bytes: number): void {
    this.bytes += bytes;
    const p: Promise<void> = job
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.jobs.delete(p);
        this.bytes -= bytes;
      });
    this.jobs.add(p);
  }

  /** Waits for every job (none rejects: failures are kept). */
  async settle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all(this.jobs);
  }

  get failed(): { error: unknown } | undefined {
    return this.failure;
  }
}

/**
 * Reads `content` whole into a new Buffer of exactly `size` bytes (E_SIZE_MISMATCH otherwise),
 * reporting progress; a non-cconv stream error becomes E_IO naming `source`.
 */
async function readWhole(content: Readable, size: number, source: string, advance: (n: number) => void): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  let at = 0;
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) {
      if (at + chunk.length > size) throw new CconvError('E_SIZE_MISMATCH', `${source} is longer than its declared ${size} bytes`);
      at += chunk.copy(buf, at);
      advance(chunk.length);
    }
  } catch (err) {
    buf.fill(0);
    throw wrapIoError(err, `cannot read ${source}`);
  }
  if (at !== size) throw new CconvError('E_SIZE_MISMATCH', `${source} is ${at} bytes, declared ${size}`);
  return buf;
}

/**
 * Encrypts `selected` (from the policy selection) with `key`. Each file is bound to the path
 * Gramine opens it by: cconv mounts every encrypted file at its own path with `uri = file:PATH`
 * under the chroot `fs.root = file:/`, so the bound path is the in-image path itself.
 * A selected symlink is refused (E_UNSUPPORTED): its target's plaintext would stay in the image.
 * Any failure (reading a layer, a short or long content, an fs error in any encryption, also one
 * running in the background) fails the call after every encryption has stopped, with the temp
 * dir and everything in it removed. Reading a content stream that fails gives E_IO naming the
 * in-image path (or the layer reader's own CconvError unchanged).
 */
export async function encryptSelected(
  rootfs: Rootfs,
  selected: readonly SelectedFile[],
  key: SecretKey,
  options: EncryptSelectedOptions,
): Promise<EncryptedFiles> {
  for (const f of selected) {
    if (f.target !== undefined) {
      throw new CconvError('E_UNSUPPORTED', `${f.path} is a symlink to ${f.target}; cconv encrypts regular files only`, {
        hint: `encrypt the file it points to (--encrypt ${f.target}) and exclude the link`,
      });
    }
  }
  const bufferMax = options.bufferMax ?? ENCRYPT_BUFFER_MAX;
  const pool = new JobPool(Math.max(1, Math.floor(options.concurrency ?? ENCRYPT_CONCURRENCY)), ENCRYPT_BUFFER_BUDGET);
  let dir: string;
  try {
    dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'cconv-encrypt-'));
  } catch (err) {
    throw wrapIoError(err, 'creating a temp dir for encrypted files');
  }
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    const spool = join(dir, 'ciphertexts.pf');
    const file = await open(spool, 'wx', 0o600).catch((err: unknown) => {
      throw wrapIoError(err, 'creating the ciphertext spool');
    });
    const byPath = new Map<string, { f: SelectedFile; target: PfTarget }>();
    let offset = 0;
    for (const f of selected) {
      byPath.set(f.path.slice(1), { f, target: { file, offset, name: `${spool} (ciphertext of ${f.path})` } });
      offset += encryptedSize(f.size);
    }
    const files: EncryptedFile[] = [];
    const total = selected.reduce((n, f) => n + f.size, 0);
    try {
      await runTask(options.report, 'encrypt', `Encrypting ${selected.length} files`, async (advance) => {
        let passFailure: { error: unknown } | undefined;
        try {
          await rootfs.readContents(
            (e) => byPath.has(e.path),
            async (e, content) => {
              pool.check(); // a background failure stops the content pass at the next file
              const { f, target } = byPath.get(e.path)!;
              const source = `${f.path} in the image`;
              const opts: PfWriteOptions & { memoryMax: number } = { key: key.expose(), path: pfBoundPath({ path: f.path, uri: `file:${f.path}` }, f.path), size: f.size, source, memoryMax: bufferMax };
              const done = (): void => void files.push({ path: f.path, ciphertextFile: spool, offset: target.offset, size: encryptedSize(f.size) });
              if (f.size <= bufferMax) {
                await pool.room(f.size);
                const plain = await readWhole(content, f.size, source, advance);
                pool.add(
                  encryptAt(plain, target, opts)
                    .then(done)
                    .finally(() => plain.fill(0)),
                  f.size,
                );
                return;
              }
              const counted = (async function* () {
                for await (const chunk of content as AsyncIterable<Buffer>) {
                  advance(chunk.length);
                  yield chunk;
                }
              })();
              await encryptAt(counted, target, opts);
              done();
            },
          );
        } catch (error) {
          // The first failure wins: the pass may have stopped because of a background one.
          passFailure = pool.failed ?? { error };
        } finally {
          await pool.settle(); // nothing may still write into the spool when it is closed
        }
        if (passFailure) throw passFailure.error;
        pool.check();
      }, total);
    } finally {
      await file.close();
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { files, bytes: total, close };
  } catch (err) {
    await close();
    throw err;
  }
}
