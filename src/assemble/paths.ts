/** Path helpers of the assembler: normalisation of in-image paths and the layer entry order. */
import { CconvError } from '../errors.ts';

/**
 * Normalises an absolute in-image path to the rootfs form ('usr/bin/x': no leading or trailing
 * '/', no '.' or empty components). E_CONFIG for a relative path, '..', NUL or the root itself.
 */
export function normalizeImagePath(path: string, what: string): string {
  if (!path.startsWith('/')) throw new CconvError('E_CONFIG', `${what} ${JSON.stringify(path)} is not an absolute path`);
  const parts = path.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.length === 0 || parts.includes('..') || path.includes('\0')) {
    throw new CconvError('E_CONFIG', `${what} ${JSON.stringify(path)} must name a path below the root, without '..'`);
  }
  return parts.join('/');
}

/** Normalises a tar member name ('./a//b/' -> 'a/b'); undefined when absolute, with '..' or NUL. */
export function normalizeMemberName(name: string): string | undefined {
  if (name.startsWith('/') || name.includes('\0')) return undefined;
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  return parts.includes('..') ? undefined : parts.join('/');
}

/** The parent directories of a normalised path, top first: 'a/b/c' -> ['a', 'a/b']. */
export function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Depth-first path order (one definition, in the rootfs module). */
export { comparePaths } from '../rootfs/index.ts';
