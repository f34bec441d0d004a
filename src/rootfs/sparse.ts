/**
 * GNU sparse files: parsing the region map of every GNU format (old GNU 'S' headers, PAX 0.0, 0.1
 * and 1.0) and expanding stored regions into the full content, zeros in the holes.
 */
import type { ByteReader } from './byte-reader.ts';
import { BLOCK, TarFormatError } from './tar-header.ts';

/** Data regions `[offset, length]` of a sparse file, ascending; bytes outside them are zero. */
export type SparseMap = Array<[number, number]>;

/** Upper bound on regions per file, so a hostile map cannot exhaust memory. */
export const MAX_SPARSE_REGIONS = 1_000_000;
const ZERO_CHUNK = 64 * 1024;

/** Checks a map against the file's real size and stored data size; throws TarFormatError. */
export function validateSparseMap(map: SparseMap, realSize: number, storedSize: number): void {
  if (map.length > MAX_SPARSE_REGIONS) throw new TarFormatError('too many sparse regions');
  let end = 0;
  let total = 0;
  for (const [off, len] of map) {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < end || len < 0 || off + len > realSize) {
      throw new TarFormatError('invalid sparse map');
    }
    end = off + len;
    total += len;
  }
  if (total !== storedSize) throw new TarFormatError('sparse map does not match stored size');
}

/** Parses a comma-separated `off,len,off,len` list (PAX 0.1 `GNU.sparse.map`). */
export function parseSparseList(text: string): SparseMap {
  const nums = text === '' ? [] : text.split(',').map(toInt);
  if (nums.length % 2 !== 0) throw new TarFormatError('odd sparse map');
  const map: SparseMap = [];
  for (let i = 0; i < nums.length; i += 2) map.push([nums[i]!, nums[i + 1]!]);
  return map;
}

function toInt(s: string): number {
  if (!/^[0-9]{1,16}$/.test(s)) throw new TarFormatError(`bad sparse number ${JSON.stringify(s.slice(0, 20))}`);
  return Number(s);
}

/**
 * Reads the PAX 1.0 map at the start of the entry's data: decimal lines (count, then offset/length
 * pairs) padded to a block. Returns the map and the bytes consumed (a multiple of 512).
 */
export async function readSparse1Map(reader: ByteReader, dataSize: number): Promise<{ map: SparseMap; used: number }> {
  const nums: number[] = [];
  let want = -1;
  let used = 0;
  let line = '';
  while (want < 0 || nums.length < want) {
    if (used >= dataSize) throw new TarFormatError('truncated sparse map');
    const block = await reader.read(BLOCK);
    if (block.length < BLOCK) throw new TarFormatError('unexpected end of tar stream');
    used += BLOCK;
    for (let i = 0; i < BLOCK && (want < 0 || nums.length < want); i++) {
      const c = block[i]!;
      if (c !== 0x0a) {
        line += String.fromCharCode(c);
        if (line.length > 20) throw new TarFormatError('bad sparse map line');
        continue;
      }
      const v = toInt(line);
      line = '';
      if (want < 0) {
        if (v > MAX_SPARSE_REGIONS) throw new TarFormatError('too many sparse regions');
        want = v * 2;
      } else nums.push(v);
    }
  }
  const map: SparseMap = [];
  for (let i = 0; i < nums.length; i += 2) map.push([nums[i]!, nums[i + 1]!]);
  return { map, used };
}

/** Yields zeros for `n` bytes, in fresh chunks (consumers may keep or modify them). */
export function* zeros(n: number): Generator<Buffer> {
  while (n > 0) {
    const k = Math.min(n, ZERO_CHUNK);
    n -= k;
    yield Buffer.alloc(k);
  }
}

/** Yields the expanded content: each region's stored bytes from `reader`, zeros between and after. */
export async function* expandSparse(reader: ByteReader, map: SparseMap, realSize: number): AsyncGenerator<Buffer> {
  let pos = 0;
  for (const [off, len] of map) {
    yield* zeros(off - pos);
    yield* reader.take(len);
    pos = off + len;
  }
  yield* zeros(realSize - pos);
}
