/**
 * Pull-based reader over an async iterable of chunks (a layer's uncompressed tar stream). Hands out
 * exact-size header reads and zero-copy data chunks as they arrive; never buffers more than one
 * upstream chunk.
 */
import { TarFormatError } from './tar-header.ts';

const EMPTY = Buffer.alloc(0);

/** Sequential reader; `position` counts bytes consumed. `onBytes` sees every upstream chunk's length. */
export class ByteReader {
  position = 0;
  private cur: Buffer = EMPTY;
  private readonly it: AsyncIterator<unknown>;
  private readonly onBytes: ((n: number) => void) | undefined;

  constructor(src: AsyncIterable<unknown>, onBytes?: (n: number) => void) {
    this.it = src[Symbol.asyncIterator]();
    this.onBytes = onBytes;
  }

  /** Loads the next non-empty upstream chunk; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (this.cur.length === 0) {
      const r = await this.it.next();
      if (r.done) return false;
      const v = r.value;
      this.cur = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
      this.onBytes?.(this.cur.length);
    }
    return true;
  }

  /** Reads `n` bytes; fewer only at end of stream (possibly 0). */
  async read(n: number): Promise<Buffer> {
    if (this.cur.length >= n) return this.slice(n);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const part = this.slice(Math.min(n - got, this.cur.length));
      parts.push(Buffer.from(part)); // copy: header bytes outlive the upstream chunk
      got += part.length;
    }
    return Buffer.concat(parts, got);
  }

  /** Yields exactly `n` bytes as upstream-sized chunks; throws TarFormatError if the stream ends first. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new TarFormatError('unexpected end of tar stream');
      const part = this.slice(Math.min(left, this.cur.length));
      left -= part.length;
      yield part;
    }
  }

  /** Discards exactly `n` bytes; throws TarFormatError if the stream ends first. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) void _;
  }

  /** Reads and discards everything up to end of stream (so upstream digest checks run). */
  async drain(): Promise<void> {
    this.position += this.cur.length;
    this.cur = EMPTY;
    while (await this.fill()) {
      this.position += this.cur.length;
      this.cur = EMPTY;
    }
  }

  /** Stops reading early: returns the upstream iterator (a Readable's iterator destroys its stream). */
  async close(): Promise<void> {
    await this.it.return?.();
  }

  private slice(n: number): Buffer {
    const out = this.cur.subarray(0, n);
    this.cur = this.cur.subarray(n);
    this.position += n;
    return out;
  }
}
