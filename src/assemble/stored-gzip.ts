/**
 * gzip without compression: RFC 1952 framing around RFC 1951 "stored" blocks, for the layer that
 * carries ciphertexts. Encrypted bytes do not compress, and deflate spends its time failing to
 * (zlib level 6 runs at ~45 MB/s on them here; this is bounded by CRC-32, GB/s), for 0.01% of
 * framing. Every gzip reader (Docker, containerd, registries) accepts it; the media type stays
 * `tar+gzip`.
 *
 * Deterministic by construction: every data block holds exactly 65,535 input bytes but the last
 * one, and an empty final block ends the stream, so the output depends on the input bytes only,
 * not on how they were chunked (zlib's own level 0 sizes its blocks by the buffers it is handed)
 * nor on the zlib version. The header has no name and mtime 0, as Node's gzip writes it.
 */
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { CconvError } from '../errors.ts';

const MAX_STORED = 65535;
/** ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL = 0, OS = 3 (Unix). */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
/** BFINAL = 1, BTYPE = 00 (stored), LEN = 0, NLEN = 0xffff. */
const FINAL_BLOCK = Buffer.from([1, 0, 0, 0xff, 0xff]);

/** zlib's CRC-32 (gzip's), continuing from `crc` (Node >= 20.15, as package.json's engines say). */
const zlibCrc32: typeof zlib.crc32 | undefined = zlib.crc32; // undefined before Node 20.15

function crc32(data: Uint8Array, crc: number): number {
  if (zlibCrc32 === undefined) throw new CconvError('E_UNSUPPORTED', `Node ${process.version} has no zlib.crc32: cconv needs Node 20.15 or later`);
  return zlibCrc32(data, crc);
}

/** A Transform from bytes to a gzip stream of stored blocks (see the module comment). */
export class StoredGzip extends Transform {
  /** Input bytes of the block being filled (views of the input chunks, not copies). */
  private parts: Buffer[] = [];
  private fill = 0;
  private crc = 0;
  private size = 0;

  constructor() {
    super();
    this.push(HEADER);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.size = (this.size + chunk.length) % 2 ** 32; // ISIZE is the length modulo 2^32
    while (chunk.length > 0) {
      const n = Math.min(MAX_STORED - this.fill, chunk.length);
      this.parts.push(chunk.subarray(0, n));
      this.fill += n;
      chunk = chunk.subarray(n);
      if (this.fill === MAX_STORED) this.block();
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.fill > 0) this.block();
    this.push(FINAL_BLOCK);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc, 0);
    trailer.writeUInt32LE(this.size, 4);
    this.push(trailer);
    cb();
  }

  /** Emits the block being filled: BFINAL = 0, BTYPE = 00, LEN, NLEN, the bytes. */
  private block(): void {
    const len = this.fill;
    this.push(Buffer.from([0, len & 0xff, len >>> 8, ~len & 0xff, (~len >>> 8) & 0xff]));
    for (const p of this.parts) this.push(p);
    this.parts = [];
    this.fill = 0;
  }
}
