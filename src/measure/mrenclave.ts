/**
 * MRENCLAVE: SHA-256 over the ECREATE, EADD and EEXTEND records of the enclave build, as
 * sgx_sign.py `generate_measurement` computes it. Records are 64 bytes (EEXTEND is followed by its
 * 256 data bytes); they are written into a 1 MiB buffer and hashed in large updates. Runs of
 * unmeasured ("free") pages, the bulk of a big enclave, are produced by patching only the offset
 * field of a pre-filled EADD record pattern.
 */
import { createHash, type Hash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CconvError } from '../errors.ts';
import type { EnclaveLayout } from './enclave.ts';

const REC = 64;
const EEXTEND_CHUNK = 256;
const BATCH = 1 << 20;

function tag(name: string): Buffer {
  const b = Buffer.alloc(8);
  b.write(name, 'latin1');
  return b;
}
const EADD = tag('EADD');
const EEXTEND = tag('EEXTEND');
const ECREATE = tag('ECREATE');

/** Accumulates records and hashes them in BATCH-sized updates. */
class RecordHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly buf = Buffer.alloc(BATCH);
  private pos = 0;
  private flushes = 0;

  constructor(private readonly enclaveSize: number) {}

  private room(n: number): void {
    if (this.pos + n > BATCH) this.flush();
  }

  flush(): void {
    if (this.pos > 0) this.hash.update(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.flushes++;
  }

  /** True about every 64 MiB hashed, so long runs can yield to the event loop. */
  shouldYield(): boolean {
    if (this.flushes < 64) return false;
    this.flushes = 0;
    return true;
  }

  private header(t: Buffer, offset: number): void {
    const b = this.buf;
    b.fill(0, this.pos, this.pos + REC);
    t.copy(b, this.pos);
    b.writeUInt32LE(offset % 2 ** 32, this.pos + 8);
    b.writeUInt32LE(Math.floor(offset / 2 ** 32), this.pos + 12);
  }

  ecreate(ssaFramePages: number, size: number): void {
    this.room(REC);
    const b = this.buf;
    b.fill(0, this.pos, this.pos + REC);
    ECREATE.copy(b, this.pos);
    b.writeUInt32LE(ssaFramePages, this.pos + 8);
    b.writeBigUInt64LE(BigInt(size), this.pos + 12);
    this.pos += REC;
  }

  /** EADD of the page at `offset` (from the enclave base), then EEXTENDs of `page` when given. */
  page(offset: number, flags: number, page: Buffer | undefined, pageSize: number): void {
    if (offset >= this.enclaveSize) throw new CconvError('E_ENCLAVE_LAYOUT', `EADD offset 0x${offset.toString(16)} outside the enclave`);
    this.room(REC + (page === undefined ? 0 : (pageSize / EEXTEND_CHUNK) * (REC + EEXTEND_CHUNK)));
    this.header(EADD, offset);
    this.buf.writeUInt32LE(flags, this.pos + 16);
    this.pos += REC;
    if (page === undefined) return;
    for (let i = 0; i < pageSize; i += EEXTEND_CHUNK) {
      this.header(EEXTEND, offset + i);
      this.pos += REC;
      page.copy(this.buf, this.pos, i, i + EEXTEND_CHUNK);
      this.pos += EEXTEND_CHUNK;
    }
  }

  /** EADDs (no EEXTEND) of `count` pages from `offset`, in large batches. */
  async unmeasuredRun(offset: number, count: number, flags: number, pageSize: number): Promise<void> {
    if (count > 0 && offset + (count - 1) * pageSize >= this.enclaveSize) throw new CconvError('E_ENCLAVE_LAYOUT', 'EADD run outside the enclave');
    this.flush();
    const perBatch = BATCH / REC;
    const pattern = this.buf;
    for (let r = 0; r < perBatch; r++) {
      const p = r * REC;
      pattern.fill(0, p, p + REC);
      EADD.copy(pattern, p);
      pattern.writeUInt32LE(flags, p + 16);
    }
    const words = new Uint32Array(pattern.buffer, pattern.byteOffset, BATCH / 4);
    // The offset field as two little-endian u32 words, carried by hand (no division per record).
    let lo = offset % 4294967296;
    let hi = Math.floor(offset / 4294967296);
    for (let done = 0; done < count; ) {
      const n = Math.min(perBatch, count - done);
      for (let r = 0, w = 2; r < n; r++, w += REC / 4) {
        words[w] = lo;
        words[w + 1] = hi;
        lo += pageSize;
        if (lo >= 4294967296) {
          lo -= 4294967296;
          hi++;
        }
      }
      this.hash.update(pattern.subarray(0, n * REC));
      done += n;
      if (++this.flushes >= 64) {
        this.flushes = 0;
        await yieldToLoop();
      }
    }
  }

  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }
}

/**
 * Hashes the layout's build records. `libpal` is the PAL file (its segments' bytes are EEXTENDed).
 * Returns MRENCLAVE as lowercase hex. The record sequence is the reference's: ECREATE, then every
 * area in layout order, page by page; PAL pages per PT_LOAD segment; free pages EADD only.
 */
export async function measureLayout(layout: EnclaveLayout, libpal: Buffer, pageSize: number, ssaFrameSize: number): Promise<string> {
  const h = new RecordHasher(layout.enclaveSize);
  h.ecreate(ssaFrameSize / pageSize, layout.enclaveSize);
  const zero = Buffer.alloc(pageSize);
  const scratch = Buffer.alloc(pageSize);
  for (const area of layout.areas) {
    if (area.segments !== undefined) {
      for (const seg of area.segments) {
        const fStart = Math.floor(seg.fileOffset / pageSize) * pageSize;
        const fEnd = seg.fileOffset + seg.fileSize;
        for (let k = 0; k * pageSize < seg.size; k++) {
          const start = fStart + k * pageSize;
          const from = Math.max(start, seg.fileOffset);
          const to = Math.min(start + pageSize, fEnd);
          scratch.fill(0);
          if (from < to) libpal.copy(scratch, from - start, from, to);
          h.page(seg.addr + k * pageSize - layout.base, seg.flags, scratch, pageSize);
        }
      }
      continue;
    }
    const pages = area.size / pageSize;
    if (!area.measured) {
      await h.unmeasuredRun(area.addr - layout.base, pages, area.flags, pageSize);
      continue;
    }
    for (let k = 0; k < pages; k++) {
      let data = zero;
      if (area.content !== undefined) {
        const s = k * pageSize;
        if (s < area.content.length) {
          scratch.fill(0);
          area.content.copy(scratch, 0, s, Math.min(s + pageSize, area.content.length));
          data = scratch;
        }
      }
      h.page(area.addr + k * pageSize - layout.base, area.flags, data, pageSize);
      if (h.shouldYield()) await yieldToLoop();
    }
  }
  return h.digest();
}
