/**
 * Protected-file writer: the I/O shell around PfEncoder (see encoder.ts for the layout and the
 * memory bound). encryptToFile writes straight into the destination: a small Buffer input (its
 * whole file fits one MHT group, <= 98 nodes) is encoded in memory and written with one write,
 * anything else with positional writes as the nodes become final; encryptFile gives the ciphertext
 * as a stream, spooling it to a private temp file first because node 0 depends on the whole file
 * (the spool holds ciphertext only, never plaintext).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CconvError, isCconvError, wrapIoError } from '../../errors.ts';
import { PfEncoder, type PfEncoderOptions, type PfWriteResult } from './encoder.ts';
import { PF_DATA_PER_MHT, PF_MD_DATA_SIZE, PF_NODE_SIZE, encryptedSize } from './format.ts';

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

/** A failure of encryptToFile: a size mismatch names the input (when `source` is given), fs errors the output. */
function writeFailure(err: unknown, outPath: string, source: string | undefined): CconvError {
  if (source !== undefined && isCconvError(err, 'E_SIZE_MISMATCH')) {
    return new CconvError('E_SIZE_MISMATCH', `${source}: ${err.message}`, { cause: err });
  }
  return wrapIoError(err, `cannot write ${outPath}`);
}

/** One-write path of encryptToFile for a Buffer of at most PF_SINGLE_WRITE_MAX bytes. */
async function encryptSmall(input: Buffer, outPath: string, opts: PfWriteOptions): Promise<PfWriteResult> {
  // The declared size decides the buffer; a wrong size fails in the encoder before any write.
  const out = Buffer.alloc(encryptedSize(opts.size ?? input.length));
  try {
    const enc = new PfEncoder(opts, async (node, buffers) => {
      let at = node * PF_NODE_SIZE;
      for (const b of buffers) at += b.copy(out, at);
    });
    await enc.write(input);
    const result = await enc.finish();
    await writeFile(outPath, out, { mode: 0o644 });
    return result;
  } catch (err) {
    await unlink(outPath).catch(() => {}); // as the streaming path: no stale file at outPath
    throw writeFailure(err, outPath, opts.source);
  }
}

/**
 * Encrypts `input` into a new protected file at `outPath` (created or truncated, mode 0644),
 * bound to `opts.path`. Consumes `input` to its end. On failure the partial output is removed and
 * the error is thrown: E_SIZE_MISMATCH when `opts.size` is wrong; E_IO "cannot read <opts.source>"
 * when the input stream fails with a non-cconv error (a CconvError from the input passes
 * unchanged); E_IO "cannot write <outPath>" for output fs errors.
 */
export async function encryptToFile(input: PfInput, outPath: string, opts: PfWriteOptions): Promise<PfWriteResult> {
  if (Buffer.isBuffer(input) && input.length <= PF_SINGLE_WRITE_MAX && (opts.size ?? 0) <= PF_SINGLE_WRITE_MAX) {
    return encryptSmall(input, outPath, opts);
  }
  let fh;
  try {
    fh = await open(outPath, 'w', 0o644);
  } catch (err) {
    throw wrapIoError(err, `cannot create ${outPath}`);
  }
  const file = fh;
  // Up to MAX_IN_FLIGHT positional writes run while the next group is encrypted: memory stays
  // bounded (a few groups of 384 KiB) and crypto overlaps I/O.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const sink = async (node: number, buffers: Buffer[]): Promise<void> => {
    if (failure !== undefined) throw failure;
    const want = buffers.reduce((n, b) => n + b.length, 0);
    const p: Promise<void> = file
      .writev(buffers, node * PF_NODE_SIZE)
      .then(({ bytesWritten }) => {
        if (bytesWritten !== want) throw new CconvError('E_IO', `short write to ${outPath}`);
      })
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  };
  const drain = async (): Promise<void> => {
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
  };
  try {
    const enc = new PfEncoder(opts, sink);
    await feed(enc, input, opts.source ?? 'the plaintext input');
    const result = await enc.finish();
    await drain();
    await file.close();
    return result;
  } catch (err) {
    await Promise.all(inFlight);
    await file.close().catch(() => {});
    await unlink(outPath).catch(() => {});
    throw writeFailure(err, outPath, opts.source);
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
