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

/**
 * Depth-first order of relative or absolute paths: component by component, each bytewise in
 * UTF-8, so a directory comes right before its children ('a', 'a/b', 'a-c'; not 'a-c' before
 * 'a/b'). One pass over the characters: where the paths first differ, the one whose component
 * ends there ('/') is first, else the code points decide; a prefix comes first.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit's rank in code-point order: surrogates (code points above 0xFFFF) after every BMP unit. */
function codePointRank(u: number): number {
  return u >= 0xd800 && u <= 0xdfff ? u + 0x2000 : u >= 0xe000 ? u - 0x800 : u;
}

/** Compares two names bytewise in UTF-8, i.e. by code point (not by UTF-16 unit as `<` does). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
