/**
 * Deterministic pseudo-random file contents that compress like real files: text drawn from a
 * Zipf-skewed vocabulary of words (Python-like source), binary drawn from a skewed set of short
 * byte tokens with zero runs (like ELF code and data). Same seed, same bytes, on every machine.
 */

/** A 32-bit PRNG (mulberry32); `next()` returns a uint32. Deterministic for a given seed. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
}

/** Kind of content: source-like text or binary-like bytes. */
export type ContentKind = 'text' | 'bin';

const TOKENS = 4096;

function buildTokens(kind: ContentKind): Uint8Array[] {
  const r = new Prng(kind === 'text' ? 0x7e47 : 0xb1a5);
  const out: Uint8Array[] = [];
  const keywords = ['def ', 'self.', 'return ', 'import ', '    ', '\n', '(', '):\n', ', ', ' = ', 'None', 'if ', '"""', '#'];
  for (let i = 0; i < TOKENS; i++) {
    if (kind === 'text') {
      if (i < keywords.length) {
        out.push(Buffer.from(keywords[i]!));
        continue;
      }
      const len = 2 + (r.next() % 9);
      const w = Buffer.alloc(len + 1);
      for (let j = 0; j < len; j++) w[j] = 97 + (r.next() % 26);
      w[len] = i % 7 === 0 ? 10 : i % 3 === 0 ? 46 : 32; // newline, '.', space
      out.push(w);
    } else {
      const len = 2 + (r.next() % 14);
      const w = Buffer.alloc(len);
      if (i % 11 !== 0) for (let j = 0; j < len; j++) w[j] = r.next() % 4 === 0 ? 0 : r.next() & 0xff;
      out.push(w);
    }
  }
  return out;
}

const TABLES: Record<ContentKind, Uint8Array[]> = { text: buildTokens('text'), bin: buildTokens('bin') };

/**
 * Yields `size` bytes of content for `seed`, in chunks of at most `chunk` bytes (fresh buffers, the
 * caller may keep them). Token choice is skewed (index = N * u^3), so frequent tokens dominate as
 * in real files; about 1 token in 16 is uniform, which keeps the data from compressing too well.
 */
export function* fileContent(seed: number, size: number, kind: ContentKind, chunk = 256 * 1024): Generator<Buffer> {
  const r = new Prng(seed);
  const table = TABLES[kind];
  let left = size;
  while (left > 0) {
    const n = Math.min(left, chunk);
    const buf = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const x = r.next();
      const u = (x & 0xffff) / 65536;
      const tok = table[(x >>> 28) === 0 ? (x >>> 16) & (TOKENS - 1) : Math.floor(TOKENS * u * u * u)]!;
      const m = Math.min(tok.length, n - o);
      for (let j = 0; j < m; j++) buf[o + j] = tok[j]!;
      o += m;
    }
    left -= n;
    yield buf;
  }
}
