/**
 * Encrypts the files a policy marks `encrypt`, streaming each from the image's layers into a
 * Gramine protected file. All the protected files go into ONE spool file in a private temp dir,
 * each at an offset fixed in advance from the plaintext sizes (a protected file's size depends on
 * its plaintext size only), so no file system round trip is paid per file (20,000 small files
 * took seconds to create, write and close one by one). The assembler reads each ciphertext from
 * its range of the spool; the plaintext never touches the disk.
 *
 * Throughput over many small files: a file of at most `bufferMax` bytes is read whole from its
 * content stream (the layer reader waits meanwhile) and joins a batch (PfBatch: one native call
 * for about ENCRYPT_BATCH_BYTES of files), encrypted in the background on the thread pool while
 * the next files are read (BatchEncryptor). Larger files are streamed into the writer as they
 * arrive. The ciphertext files and the result do not depend on the order in which encryptions
 * finish (results are sorted by path; each file has its own offset).
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EncryptedFile } from '../assemble/index.ts';
import { CconvError, wrapIoError } from '../errors.ts';
import { PfBatch, encryptAt, encryptedSize, pfBoundPath, type PfTarget, type PfWriteOptions, type SecretKey } from '../encrypt/index.ts';
import type { SelectedFile } from '../policy/index.ts';
import { runTask, throwIfAborted, type Reporter } from '../progress.ts';
import { comparePaths } from '../rootfs/index.ts';
import type { Rootfs } from '../rootfs/types.ts';

/** Default `bufferMax`: files up to 4 MiB are read whole and encrypted in the background. */
export const ENCRYPT_BUFFER_MAX = 4 << 20;
/** Default `concurrency`: batches encrypted at once (twice the thread pool's 4 threads, so none waits for work). */
export const ENCRYPT_CONCURRENCY = 8;
/** Plaintext bytes the batches in flight may hold together. */
export const ENCRYPT_BUFFER_BUDGET = 16 << 20;
/** A batch is launched once it holds this many plaintext bytes (or ENCRYPT_BATCH_FILES files). */
export const ENCRYPT_BATCH_BYTES = 1 << 20;
const ENCRYPT_BATCH_FILES = 256;

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
  /** At most this many background batches at once (default ENCRYPT_CONCURRENCY, at least 1; ENCRYPT_BUFFER_BUDGET bounds their bytes). */
  concurrency?: number;
  /**
   * Cancels the pass (default `report.signal`): checked before each file; the content streams of a
   * cancelled build fail on their own (pipeline/abortable.ts). The call then fails as on any error.
   */
  signal?: AbortSignal;
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

/** Options of BatchEncryptor. */
export interface BatchEncryptorOptions {
  /** Batches in flight at most (default ENCRYPT_CONCURRENCY). */
  concurrency?: number;
  /** Zero each plaintext once encrypted or dropped (the build's own buffers: yes). */
  wipe: boolean;
}

/**
 * Whole plaintexts encrypted in the background into one open file, in batches (PfBatch) of about
 * ENCRYPT_BATCH_BYTES, at most `concurrency` batches and ENCRYPT_BUFFER_BUDGET bytes in flight.
 * Memory: the budget, plus the batch being filled (< ENCRYPT_BATCH_BYTES + one file).
 * Use: `await reserve(size)` before producing a file's plaintext, then `add()`; `finish()` at the
 * end, or `abandon()` after a failure elsewhere.
 */
export class BatchEncryptor {
  private readonly pool: JobPool;
  private batch: PfBatch;
  private done: Array<() => void> = [];

  constructor(
    private readonly file: FileHandle,
    private readonly key: Buffer,
    private readonly options: BatchEncryptorOptions,
  ) {
    this.pool = new JobPool(Math.max(1, Math.floor(options.concurrency ?? ENCRYPT_CONCURRENCY)), ENCRYPT_BUFFER_BUDGET);
    this.batch = new PfBatch(file, key, options);
  }

  /** Call before producing the plaintext of a file of `size` bytes: may launch the batch being filled, and wait for room. Throws the first background failure. */
  async reserve(size: number): Promise<void> {
    this.pool.check();
    if (this.batch.files > 0 && (this.batch.bytes + size > ENCRYPT_BATCH_BYTES || this.batch.files >= ENCRYPT_BATCH_FILES)) await this.launch();
  }

  /** Adds a file's whole plaintext to the batch being filled (see PfBatch.add); `onDone` runs once it is written. */
  add(plain: Buffer, target: PfTarget, opts: { path: string; size?: number; source?: string }, onDone: () => void): void {
    try {
      this.batch.add(plain, target, opts);
    } catch (err) {
      if (this.options.wipe) plain.fill(0);
      throw err;
    }
    this.done.push(onDone);
  }

  /** Launches the last batch and waits for every batch; throws the first failure. */
  async finish(): Promise<void> {
    try {
      if (this.batch.files > 0) await this.launch();
    } finally {
      await this.abandon();
    }
    this.pool.check();
  }

  /** Drops the batch being filled and waits for the batches in flight (nothing writes once this resolves). */
  async abandon(): Promise<void> {
    this.batch.discard();
    await this.pool.settle();
  }

  /** Throws the first background failure, if any. */
  check(): void {
    this.pool.check();
  }

  /** The first background failure, if any. */
  get failed(): { error: unknown } | undefined {
    return this.pool.failed;
  }

  private async launch(): Promise<void> {
    const batch = this.batch;
    const done = this.done;
    this.batch = new PfBatch(this.file, this.key, this.options);
    this.done = [];
    try {
      await this.pool.room(batch.bytes);
    } catch (err) {
      batch.discard();
      throw err;
    }
    this.pool.add(
      batch.run().then(() => {
        for (const d of done) d();
      }),
      batch.bytes,
    );
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
  const signal = options.signal ?? options.report.signal;
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
    // Laid out in the order the assembler's cconv layer lists them (depth-first by name), so it reads the spool sequentially.
    for (const f of [...selected].sort((a, b) => comparePaths(a.path.slice(1), b.path.slice(1)))) {
      byPath.set(f.path.slice(1), { f, target: { file, offset, name: `${spool} (ciphertext of ${f.path})` } });
      offset += encryptedSize(f.size);
    }
    const files: EncryptedFile[] = [];
    const total = selected.reduce((n, f) => n + f.size, 0);
    const batches = new BatchEncryptor(file, key.expose(), { concurrency: options.concurrency, wipe: true });
    try {
      await runTask(options.report, 'encrypt', `Encrypting ${selected.length} files`, async (advance) => {
        try {
          await rootfs.readContents(
            (e) => byPath.has(e.path),
            async (e, content) => {
              throwIfAborted(signal);
              const { f, target } = byPath.get(e.path)!;
              const source = `${f.path} in the image`;
              const path = pfBoundPath({ path: f.path, uri: `file:${f.path}` }, f.path);
              const done = (): void => void files.push({ path: f.path, ciphertextFile: spool, offset: target.offset, size: encryptedSize(f.size) });
              if (f.size <= bufferMax) {
                await batches.reserve(f.size); // a background failure stops the content pass here
                batches.add(await readWhole(content, f.size, source, advance), target, { path, size: f.size, source }, done);
                return;
              }
              batches.check(); // a background failure stops the content pass before a large file too
              const counted = (async function* () {
                for await (const chunk of content as AsyncIterable<Buffer>) {
                  advance(chunk.length);
                  yield chunk;
                }
              })();
              const opts: PfWriteOptions = { key: key.expose(), path, size: f.size, source };
              await encryptAt(counted, target, opts);
              done();
            },
          );
        } catch (error) {
          await batches.abandon(); // nothing may still write into the spool when it is closed
          throw batches.failed?.error ?? error; // the first failure wins: the pass may have stopped because of a background one
        }
        await batches.finish();
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
