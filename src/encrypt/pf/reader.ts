/**
 * Protected-file reader: the I/O shell around PfDecoder. Reads the ciphertext once, in file order,
 * 4096-byte node by node; holds neither the ciphertext nor the plaintext.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { CconvError, wrapIoError } from '../../errors.ts';
import { PfDecoder, openMetadata, type PfInfo, type PfReadOptions } from './decoder.ts';
import { PF_NODE_SIZE } from './format.ts';

/** Ciphertext source: a file path, a Buffer, a Readable or any async iterable of byte chunks. */
export type PfSource = string | Buffer | Readable | AsyncIterable<Uint8Array>;

function chunksOf(src: PfSource): AsyncIterable<Uint8Array | string> {
  if (typeof src === 'string') return createReadStream(src, { highWaterMark: 1 << 20 });
  if (Buffer.isBuffer(src)) return Readable.from([src]);
  return src as AsyncIterable<Uint8Array | string>;
}

/**
 * Yields batches of whole 4096-byte nodes (one batch per input chunk; a node may be a view of the
 * chunk or of a reused buffer, valid until the next batch); throws E_PF_FORMAT when the length is
 * not a positive multiple of 4096.
 */
async function* nodesOf(src: PfSource): AsyncGenerator<Buffer[]> {
  const part = Buffer.alloc(PF_NODE_SIZE);
  let fill = 0;
  let total = 0;
  for await (const c of chunksOf(src)) {
    if (typeof c === 'string') throw new CconvError('E_USAGE', 'ciphertext stream must be in binary mode');
    let buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    total += buf.length;
    const batch: Buffer[] = [];
    while (buf.length > 0) {
      if (fill === 0 && buf.length >= PF_NODE_SIZE) {
        batch.push(buf.subarray(0, PF_NODE_SIZE));
        buf = buf.subarray(PF_NODE_SIZE);
        continue;
      }
      const n = Math.min(buf.length, PF_NODE_SIZE - fill);
      buf.copy(part, fill, 0, n);
      fill += n;
      buf = buf.subarray(n);
      if (fill === PF_NODE_SIZE) {
        batch.push(Buffer.from(part)); // `part` is reused: copy
        fill = 0;
      }
    }
    if (batch.length > 0) yield batch;
  }
  if (fill !== 0 || total === 0) {
    throw new CconvError('E_PF_FORMAT', `protected file size ${total} is not a positive multiple of ${PF_NODE_SIZE}`);
  }
}

/**
 * Decrypts a protected file and returns its plaintext as a stream. Every node is authenticated
 * before its plaintext is pushed; a failure (E_PF_FORMAT, E_PF_AUTH, E_PF_PATH, E_IO) is emitted
 * as the stream's 'error', possibly after some verified plaintext: a consumer must treat an
 * errored stream as a failed decryption and discard what it got.
 */
export function decryptFile(input: PfSource, opts: PfReadOptions): Readable {
  async function* run(): AsyncGenerator<Buffer> {
    const dec = new PfDecoder(opts);
    try {
      for await (const batch of nodesOf(input)) {
        const out: Buffer[] = [];
        for (const node of batch) {
          const p = dec.push(node);
          if (p.length > 0) out.push(p);
        }
        if (out.length === 1) yield out[0]!;
        else if (out.length > 1) yield Buffer.concat(out);
      }
      dec.end();
    } catch (err) {
      throw wrapIoError(err, 'cannot read protected file');
    }
  }
  return Readable.from(run(), { objectMode: false });
}

/** Decrypts a whole protected file into one Buffer (for small files and tests). */
export async function decryptToBuffer(input: PfSource, opts: PfReadOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of decryptFile(input, opts)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Reads and authenticates only node 0 of a protected file: header and metadata (path, size, root
 * MHT key and tag, first data bytes). Same errors as decryptFile for node 0.
 */
export async function readPfInfo(input: string | Buffer, opts: PfReadOptions): Promise<PfInfo> {
  let node0: Buffer;
  if (Buffer.isBuffer(input)) {
    node0 = input.subarray(0, PF_NODE_SIZE);
  } else {
    try {
      const fh = await open(input, 'r');
      try {
        node0 = Buffer.alloc(PF_NODE_SIZE);
        const { bytesRead } = await fh.read(node0, 0, PF_NODE_SIZE, 0);
        node0 = node0.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw wrapIoError(err, `cannot read ${input}`);
    }
  }
  if (node0.length < PF_NODE_SIZE) throw new CconvError('E_PF_FORMAT', 'protected file is shorter than one node');
  return openMetadata(node0, opts);
}
