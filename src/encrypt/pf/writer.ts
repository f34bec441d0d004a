/**
 * Protected-file writer: the I/O shell around PfEncoder (see encoder.ts for the layout and the
 * memory bound) and the native encoder. encryptToFile writes straight into the destination: a
 * small Buffer input (its whole file fits one MHT group, <= 98 nodes) is encoded in memory and
 * written with one write, anything else with positional writes as the nodes become final;
 * PfBatch encodes many small Buffer inputs in one native call; encryptFile gives the ciphertext
 * as a stream, spooling it to a private temp file first because node 0 depends on the whole file
 * (the spool holds ciphertext only, never plaintext).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CconvError, isCconvError, wrapIoError } from '../../errors.ts';
import { PfEncoder, type PfEncoderOptions, type PfWriteResult } from './encoder.ts';
import { PF_DATA_PER_MHT, PF_KEY_SIZE, PF_MD_DATA_SIZE, PF_NODE_SIZE, checkPathField, encryptedSize, nodeCounts } from './format.ts';
import { native } from './native.ts';
import { getNormPath } from './path.ts';

/** Plaintext source: a Buffer, a Readable, or any async iterable of byte chunks. */
export type PfInput = Buffer | Readable | AsyncIterable<Uint8Array>;

/** Options of encryptToFile / encryptFile. */
export interface PfWriteOptions extends PfEncoderOptions {
  /** Directory for encryptFile's spool file (default os.tmpdir()). */
  tmpDir?: string;
  /**
   * Names the plaintext input in error messages when reading it fails, e.g. "/app/model.bin in
   * the image" (default "the plaintext input"). Never put key material here.
   */
  source?: string;
}

const MAX_IN_FLIGHT = 4;

/**
 * Largest Buffer input written with a single write: its protected file is node 0, the root MHT
 * node and at most 96 data nodes (392 KiB), so the in-memory copy of the ciphertext stays small.
 */
const PF_SINGLE_WRITE_MAX = PF_MD_DATA_SIZE + PF_DATA_PER_MHT * PF_NODE_SIZE;

/** Feeds `input` to `enc`; a failure of the input itself (not of the encoder) names the input. */
async function feed(enc: PfEncoder, input: PfInput, source: string): Promise<void> {
  if (Buffer.isBuffer(input)) {
    await enc.write(input);
    return;
  }
  const it = (input as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Uint8Array | string>;
    try {
      r = await it.next();
    } catch (err) {
      throw wrapIoError(err, `cannot read ${source}`);
    }
    if (r.done) return;
    try {
      if (typeof r.value === 'string') throw new CconvError('E_USAGE', 'plaintext stream must be in binary mode');
      await enc.write(r.value);
    } catch (err) {
      await it.return?.().catch(() => {}); // stop (destroy) the input, as for-await would
      throw err;
    }
  }
}

/** A failure of encryptAt: a size mismatch names the input (when `source` is given), fs errors the output. */
function writeFailure(err: unknown, outPath: string, source: string | undefined): CconvError {
  if (source !== undefined && isCconvError(err, 'E_SIZE_MISMATCH')) {
    return new CconvError('E_SIZE_MISMATCH', `${source}: ${err.message}`, { cause: err });
  }
  return wrapIoError(err, `cannot write ${outPath}`);
}

/** Encodes a whole Buffer input in memory: the protected file's bytes. */
async function encodeInMemory(input: Buffer, opts: PfEncoderOptions): Promise<{ bytes: Buffer; result: PfWriteResult }> {
  // The declared size decides the buffer; a wrong size fails in the encoder before any copy.
  const bytes = Buffer.alloc(encryptedSize(opts.size ?? input.length));
  const enc = new PfEncoder(opts, async (node, buffers) => {
    let at = node * PF_NODE_SIZE;
    for (const b of buffers) at += b.copy(bytes, at);
  });
  await enc.write(input);
  return { bytes, result: await enc.finish() };
}

/** Where encryptAt writes: an open file, the byte offset of the protected file in it, and a name for errors. */
export interface PfTarget {
  file: FileHandle;
  offset: number;
  /** Names the output in error messages (a path; never key material). */
  name: string;
}

/**
 * Encrypts `input` into `target.file` at `target.offset`, with positional writes: the protected
 * file takes `encryptedSize(size)` bytes from there, so several files can share one output file,
 * each at its own offset, written concurrently. A Buffer of at most `memoryMax` bytes (default:
 * one MHT group) is encoded in memory and written with one write. Consumes `input` to its end.
 * Errors (nothing is removed: the caller owns the file): E_SIZE_MISMATCH when `opts.size` is wrong
 * (naming `opts.source` when given); E_IO "cannot read <opts.source>" when the input stream fails
 * with a non-cconv error (a CconvError from the input passes unchanged); E_IO "cannot write
 * <target.name>" for output fs errors.
 */
export async function encryptAt(input: PfInput, target: PfTarget, opts: PfWriteOptions & { memoryMax?: number }): Promise<PfWriteResult> {
  const { file, offset, name } = target;
  const write = async (buffers: Buffer[], at: number): Promise<void> => {
    const want = buffers.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = buffers.length === 1 ? await file.write(buffers[0]!, 0, want, at) : await file.writev(buffers, at);
    if (bytesWritten !== want) throw new CconvError('E_IO', `short write to ${name}`);
  };
  const memoryMax = opts.memoryMax ?? PF_SINGLE_WRITE_MAX;
  if (Buffer.isBuffer(input) && input.length <= memoryMax && (opts.size ?? 0) <= memoryMax) {
    // The native encoder when built, for a well-formed request (anything else goes to the
    // TypeScript encoder, whose errors then name the problem).
    if (native !== undefined && (opts.size ?? input.length) === input.length && opts.key.length === PF_KEY_SIZE) {
      const batch = new PfBatch(file, opts.key, { wipe: false });
      batch.add(input, target, opts);
      return (await batch.run())[0]!;
    }
    try {
      const { bytes, result } = await encodeInMemory(input, opts);
      await write([bytes], offset);
      return result;
    } catch (err) {
      throw writeFailure(err, name, opts.source);
    }
  }
  // Up to MAX_IN_FLIGHT positional writes run while the next group is encrypted: memory stays
  // bounded (a few groups of 384 KiB) and crypto overlaps I/O.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const sink = async (node: number, buffers: Buffer[]): Promise<void> => {
    if (failure !== undefined) throw failure;
    const p: Promise<void> = write(buffers, offset + node * PF_NODE_SIZE)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  };
  try {
    const enc = new PfEncoder(opts, sink, { fd: file.fd, offset }); // the native encoder writes data nodes itself
    await feed(enc, input, opts.source ?? 'the plaintext input');
    const result = await enc.finish();
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    return result;
  } catch (err) {
    await Promise.all(inFlight); // nothing writes into the file once this returns
    throw writeFailure(err, name, opts.source);
  }
}

/** Options of PfBatch. */
export interface PfBatchOptions {
  /** Zero each plaintext Buffer once it is encrypted (or the batch failed or was discarded). */
  wipe: boolean;
}

/**
 * Whole plaintexts encrypted together into one open file, each at its own offset, all under one
 * wrap key: one native call (one thread-pool job) for the batch, where one per file cost about
 * 20 us each, as much as encrypting a 30 KB file; without the native encoder, one encryptAt after
 * the other. Use once: add() the files, then run() or discard().
 */
export class PfBatch {
  private readonly paths: Buffer[] = [];
  private readonly plains: Buffer[] = [];
  private readonly entries: Array<{ target: PfTarget; path: string; source: string | undefined }> = [];
  private total = 0;
  private used = false;

  constructor(
    private readonly file: FileHandle,
    private readonly key: Buffer,
    private readonly options: PfBatchOptions,
  ) {
    if (!Buffer.isBuffer(key) || key.length !== PF_KEY_SIZE) throw new CconvError('E_USAGE', 'protected-file wrap key must be 16 bytes');
  }

  /** Files added. */
  get files(): number {
    return this.entries.length;
  }

  /** Plaintext bytes added. */
  get bytes(): number {
    return this.total;
  }

  /**
   * Adds `plain` (the whole plaintext; not to be touched until the batch settles; with `wipe`,
   * not overlapping another file's, which it would zero before that one is read), to be written
   * at `target.offset` (of this batch's file) bound to `opts.path`. A path that does not fit
   * throws E_USAGE here; a wrong `opts.size` E_SIZE_MISMATCH (naming `opts.source` when given).
   */
  add(plain: Buffer, target: PfTarget, opts: { path: string; size?: number; source?: string }): void {
    if (this.used) throw new CconvError('E_INTERNAL', 'PfBatch.add after run');
    if (target.file !== this.file) throw new CconvError('E_INTERNAL', 'PfBatch.add: a target in another file');
    if (opts.size !== undefined && opts.size !== plain.length) {
      const what = `plaintext is ${plain.length} bytes, declared ${opts.size}`;
      throw new CconvError('E_SIZE_MISMATCH', opts.source === undefined ? what : `${opts.source}: ${what}`);
    }
    const path = getNormPath(opts.path);
    this.paths.push(checkPathField(path));
    this.plains.push(plain);
    this.entries.push({ target, path, source: opts.source });
    this.total += plain.length;
  }

  /**
   * Encrypts and writes every file; resolves to their results, in the order added. A failure
   * names the file's target (see encryptAt); nothing else is written once it is known.
   */
  async run(): Promise<PfWriteResult[]> {
    if (this.used) throw new CconvError('E_INTERNAL', 'PfBatch.run called twice');
    this.used = true;
    const results = this.entries.map((e, i) => ({ size: this.plains[i]!.length, nodes: nodeCounts(this.plains[i]!.length).total, path: e.path }));
    if (native !== undefined) {
      const offsets = Float64Array.from(this.entries, (e) => e.target.offset);
      try {
        await native.encodeFiles(this.key, this.file.fd, this.paths, this.plains, offsets, this.options.wipe);
      } catch (err) {
        const e = this.entries[(err as { index?: number }).index ?? 0]!;
        throw writeFailure(err, e.target.name, e.source);
      }
      return results;
    }
    try {
      for (const [i, e] of this.entries.entries()) {
        await encryptAt(this.plains[i]!, e.target, { key: this.key, path: e.path, source: e.source, memoryMax: Infinity });
        if (this.options.wipe) this.plains[i]!.fill(0);
      }
      return results;
    } finally {
      this.discard();
    }
  }

  /** Drops the files not encrypted (zeroing them when `wipe` is set); run() may not follow. */
  discard(): void {
    this.used = true;
    if (this.options.wipe) for (const p of this.plains) p.fill(0);
  }
}

/**
 * Encrypts `input` into a new protected file at `outPath` (created or truncated, mode 0644),
 * bound to `opts.path` (see encryptAt for the errors). On failure the partial output is removed.
 */
export async function encryptToFile(input: PfInput, outPath: string, opts: PfWriteOptions): Promise<PfWriteResult> {
  let file;
  try {
    file = await open(outPath, 'w', 0o644);
  } catch (err) {
    throw wrapIoError(err, `cannot create ${outPath}`);
  }
  try {
    const result = await encryptAt(input, { file, offset: 0, name: outPath }, opts);
    await file.close();
    return result;
  } catch (err) {
    await file.close().catch(() => {});
    await unlink(outPath).catch(() => {});
    throw err;
  }
}

/**
 * Encrypts `input` and returns the protected file as a stream of bytes, in file order. The
 * encryption runs when the stream is first read; errors surface as the stream's 'error' (a
 * CconvError). The spool file is deleted when the stream ends or is destroyed.
 */
export function encryptFile(input: PfInput, opts: PfWriteOptions): Readable {
  async function* run(): AsyncGenerator<Buffer> {
    let dir: string;
    try {
      dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'cconv-pf-'));
    } catch (err) {
      throw wrapIoError(err, 'cannot create a temp directory');
    }
    try {
      const spool = join(dir, 'file.pf');
      await encryptToFile(input, spool, opts);
      for await (const chunk of createReadStream(spool, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return Readable.from(run(), { objectMode: false });
}
