/**
 * Protected-file writer: the I/O shell around PfEncoder (see encoder.ts for the layout and the
 * memory bound). encryptToFile writes straight into the destination with positional writes;
 * encryptFile gives the ciphertext as a stream, spooling it to a private temp file first because
 * node 0 depends on the whole file (the spool holds ciphertext only, never plaintext).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CconvError, wrapIoError } from '../../errors.ts';
import { PfEncoder, type PfEncoderOptions, type PfWriteResult } from './encoder.ts';
import { PF_NODE_SIZE } from './format.ts';

/** Plaintext source: a Buffer, a Readable, or any async iterable of byte chunks. */
export type PfInput = Buffer | Readable | AsyncIterable<Uint8Array>;

/** Options of encryptToFile / encryptFile. */
export interface PfWriteOptions extends PfEncoderOptions {
  /** Directory for encryptFile's spool file (default os.tmpdir()). */
  tmpDir?: string;
}

const MAX_IN_FLIGHT = 4;

async function feed(enc: PfEncoder, input: PfInput): Promise<void> {
  if (Buffer.isBuffer(input)) {
    await enc.write(input);
    return;
  }
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') throw new CconvError('E_USAGE', 'plaintext stream must be in binary mode');
    await enc.write(chunk);
  }
}

/**
 * Encrypts `input` into a new protected file at `outPath` (created or truncated, mode 0644),
 * bound to `opts.path`. Consumes `input` to its end. On failure the partial output is removed and
 * the error is thrown (E_IO for fs errors, E_SIZE_MISMATCH when `opts.size` is wrong).
 */
export async function encryptToFile(input: PfInput, outPath: string, opts: PfWriteOptions): Promise<PfWriteResult> {
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
    await feed(enc, input);
    const result = await enc.finish();
    await drain();
    await file.close();
    return result;
  } catch (err) {
    await Promise.all(inFlight);
    await file.close().catch(() => {});
    await unlink(outPath).catch(() => {});
    throw wrapIoError(err, `cannot write ${outPath}`);
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
