/**
 * Decompressing transforms for layer blobs: gzip through Node's zlib (runs on the libuv thread
 * pool, with its own backpressure) and zstd through fzstd's streaming decoder (pure JS, main
 * thread), fed one block at a time with backpressure between blocks so memory stays bounded.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import type { Compression } from './types.ts';
import { ZstdBlockSplitter } from './zstd-split.ts';

/** Output chunk size of the gzip decoder. */
const GZIP_CHUNK = 128 * 1024;

/** Streams zstd frames; errors (with fzstd's message) on corrupt or truncated input. */
export class ZstdDecompressor extends Transform {
  private readonly decoder: Decompress;
  private readonly splitter = new ZstdBlockSplitter();
  private out: Buffer[] = [];
  /** Continues a chunk whose processing paused because the readable side was full. */
  private pending: (() => void) | undefined;

  constructor() {
    super();
    // fzstd hands out blocks it does not touch again; copying keeps ownership obvious.
    this.decoder = new Decompress((data) => {
      if (data.length > 0) this.out.push(Buffer.from(data));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.feed(this.splitter.split(chunk), 0, false, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.feed([Buffer.alloc(0)], 0, true, callback);
  }

  override _read(size: number): void {
    const pending = this.pending;
    if (pending === undefined) {
      super._read(size);
      return;
    }
    this.pending = undefined;
    pending();
  }

  /** Decodes `pieces[i..]` one by one, pausing while the consumer is behind. */
  private feed(pieces: Buffer[], i: number, final: boolean, callback: TransformCallback): void {
    for (; i < pieces.length; ) {
      try {
        this.decoder.push(pieces[i]!, final && i === pieces.length - 1);
      } catch (err) {
        callback(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      i++;
      const out = this.out;
      this.out = [];
      let room = true;
      for (const b of out) room = this.push(b);
      if (!room && i < pieces.length) {
        const next = i;
        this.pending = () => this.feed(pieces, next, final, callback);
        return;
      }
    }
    callback();
  }
}

/** A transform that decompresses `compression` ('gzip' or 'zstd'); raw decoder errors are not mapped. */
export function createDecompressor(compression: Exclude<Compression, 'none'>): Transform {
  if (compression === 'gzip') return createGunzip({ chunkSize: GZIP_CHUNK });
  return new ZstdDecompressor();
}
