/**
 * Finds zstd block boundaries in a compressed stream (RFC 8878 frame and block headers only), so
 * the decoder can be fed one block at a time: fzstd decodes everything it is given in one call,
 * and one input chunk of a highly compressible layer (zeros compress ~30000:1) would otherwise
 * expand to gigabytes before backpressure can act. Malformed input is passed through unsplit for
 * the decoder to reject.
 */

type State = 'magic' | 'skippable-size' | 'frame-header' | 'block-header' | 'block-body' | 'skip' | 'opaque';

const ZSTD_MAGIC = 0xfd2fb528;
const le = (b: number[]): number => (b[0]! | (b[1]! << 8) | (b[2]! << 16) | ((b[3] ?? 0) << 24)) >>> 0;

/** Splits a zstd byte stream, chunk by chunk, into pieces that each complete at most one block. */
export class ZstdBlockSplitter {
  private state: State = 'magic';
  /** Header bytes gathered so far in a header state; bodies are counted, not copied. */
  private header: number[] = [];
  private headerLength = 4;
  private remaining = 0;
  private lastBlock = false;
  private checksum = false;

  /** Cuts `chunk` right after every block body that ends inside it; the pieces concatenate to `chunk`. */
  split(chunk: Buffer): Buffer[] {
    const pieces: Buffer[] = [];
    let start = 0;
    let i = 0;
    while (i < chunk.length && this.state !== 'opaque') {
      if (this.state === 'block-body' || this.state === 'skip') {
        const n = Math.min(this.remaining, chunk.length - i);
        i += n;
        this.remaining -= n;
        if (this.remaining > 0) break;
        if (this.state === 'block-body') {
          pieces.push(chunk.subarray(start, i));
          start = i;
          this.afterBlock();
        } else {
          this.expect('magic', 4);
        }
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === this.headerLength) this.onHeader();
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start));
    return pieces;
  }

  private expect(state: State, length: number): void {
    this.state = state;
    this.header = [];
    this.headerLength = length;
  }

  private body(state: 'block-body' | 'skip', length: number): void {
    this.state = state;
    this.remaining = length;
    this.header = [];
    // An empty body ends at once; let split() see it on its next step.
    if (length === 0 && state === 'skip') this.expect('magic', 4);
  }

  private afterBlock(): void {
    if (!this.lastBlock) this.expect('block-header', 3);
    else if (this.checksum) this.body('skip', 4);
    else this.expect('magic', 4);
  }

  private onHeader(): void {
    const h = this.header;
    switch (this.state) {
      case 'magic': {
        const magic = le(h);
        if (magic === ZSTD_MAGIC) this.expect('frame-header', 1);
        else if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) this.expect('skippable-size', 4);
        else this.state = 'opaque';
        return;
      }
      case 'skippable-size':
        this.body('skip', le(h));
        return;
      case 'frame-header': {
        if (h.length === 1) {
          const fhd = h[0]!;
          const single = (fhd & 0x20) !== 0;
          this.checksum = (fhd & 0x04) !== 0;
          this.headerLength = 1 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
        }
        if (h.length === this.headerLength) this.expect('block-header', 3);
        return;
      }
      case 'block-header': {
        const bh = le(h);
        const type = (bh >> 1) & 3;
        if (type === 3) {
          this.state = 'opaque';
          return;
        }
        this.lastBlock = (bh & 1) !== 0;
        const length = type === 1 ? 1 : bh >>> 3;
        if (length === 0) {
          // An empty raw/compressed block: nothing to count, the block ends here.
          this.afterBlock();
        } else {
          this.body('block-body', length);
        }
        return;
      }
      default:
        return;
    }
  }
}
