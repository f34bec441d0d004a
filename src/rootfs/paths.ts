/** Pure path helpers for layer entries: normalisation, whiteout names, lexical escape checks. */

/** Prefix of a whiteout file name (OCI image-spec layer.md). */
export const WHITEOUT_PREFIX = '.wh.';
/** Name of the opaque-directory marker. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** Prefix of AUFS metadata names (`.wh..wh.plnk`, ...), ignored like Docker does. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

/** Result of splitting a layer path: components, or why it is unsafe. */
export type SplitPath = { ok: true; parts: string[] } | { ok: false; reason: 'absolute' | 'dotdot' | 'nul' };

/** Splits a stored path into components: `./a//b/` -> ['a','b']; '' and '.' components dropped. */
export function splitPath(raw: string): SplitPath {
  if (raw.startsWith('/')) return { ok: false, reason: 'absolute' };
  if (raw.includes('\0')) return { ok: false, reason: 'nul' };
  const parts = raw.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) return { ok: false, reason: 'dotdot' };
  return { ok: true, parts };
}

/**
 * True when a relative symlink target, read from the directory at `dirDepth` components below the
 * root, climbs above the root lexically. Absolute targets never escape (they are rooted).
 */
export function symlinkEscapes(dirDepth: number, target: string): boolean {
  if (target.startsWith('/')) return false;
  let depth = dirDepth;
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    depth += c === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/** Compares two names bytewise in UTF-8, i.e. by code point (not by UTF-16 unit as `<` does). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after every BMP unit.
    const xs = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
    const ys = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
    return xs - ys;
  }
  return a.length - b.length;
}
