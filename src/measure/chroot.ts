/**
 * Path resolution inside an image root, with the semantics of Gramine's `resolve_symlinks(path,
 * chroot=...)` (manifest.py): components are walked left to right, '.' is skipped, '..' goes to
 * the parent of the already resolved path (stopping at '/'), every symlink met is resolved inside
 * the root (absolute targets start at the root). Only `Rootfs.get` is used, so nothing on the
 * host is ever looked at.
 */
import { CconvError } from '../errors.ts';
import type { Rootfs, RootfsEntry } from '../rootfs/types.ts';

/** Resolution failure: an intermediate component is not a directory, or a symlink loop. */
export class ChrootResolveError extends CconvError {
  readonly reason: 'ENOTDIR' | 'ELOOP';
  constructor(reason: 'ENOTDIR' | 'ELOOP', path: string) {
    super('E_TRUSTED_FILE', `${reason === 'ENOTDIR' ? 'not a directory' : 'symlink loop'}: /${path}`);
    this.reason = reason;
  }
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** Splits a path as pathlib does: empty and '.' components dropped, '..' kept. */
export function pathParts(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/**
 * A resolver bound to one root. Resolution itself memoises nothing across calls (like the
 * reference); lookups of entries are cached, as the root cannot change (expanding 20,000 trusted
 * files looks up each of their directories once per file).
 */
export class ChrootView {
  readonly rootfs: Rootfs;
  private children: Map<string, string[]> | undefined;
  private readonly entries = new Map<string, RootfsEntry | undefined>();

  constructor(rootfs: Rootfs) {
    this.rootfs = rootfs;
  }

  /** Entry at a resolved relative path ('' = root, reported as undefined). */
  entry(rel: string): RootfsEntry | undefined {
    if (rel === '') return undefined;
    let e = this.entries.get(rel);
    if (e === undefined && !this.entries.has(rel)) this.entries.set(rel, (e = this.rootfs.get(rel)));
    return e;
  }

  /** True when the resolved relative path is a directory ('' is the root). */
  isDir(rel: string): boolean {
    return rel === '' || this.entry(rel)?.type === 'dir';
  }

  /**
   * Resolves the absolute path `abs` inside the root. Returns the resolved path relative to the
   * root ('' for the root); the final component may not exist. Throws ChrootResolveError
   * (E_TRUSTED_FILE) on ENOTDIR / ELOOP, like the reference.
   */
  resolve(abs: string, seen: Map<string, string | null> = new Map()): string {
    let cur = '';
    for (const part of pathParts(abs)) {
      if (!this.isDir(cur)) throw new ChrootResolveError('ENOTDIR', cur);
      if (part === '..') {
        cur = parentOf(cur);
        continue;
      }
      cur = cur === '' ? part : `${cur}/${part}`;
      const e = this.entry(cur);
      if (e === undefined || e.type !== 'symlink') continue;
      if (!seen.has(cur)) {
        seen.set(cur, null);
        const target = e.linkTarget ?? '';
        const next = target.startsWith('/') ? target : `/${parentOf(cur)}/${target}`;
        seen.set(cur, this.resolve(next, seen));
      }
      const r = seen.get(cur);
      if (r === null || r === undefined) throw new ChrootResolveError('ELOOP', cur);
      cur = r;
    }
    return cur;
  }

  /** Like `resolve`, but undefined where pathlib's is_file()/is_dir() would answer False. */
  tryResolve(abs: string): string | undefined {
    try {
      return this.resolve(abs);
    } catch (err) {
      if (err instanceof ChrootResolveError) return undefined;
      throw err;
    }
  }

  /** Names of the direct children of the resolved directory `rel`, in code-point order. */
  childNames(rel: string): readonly string[] {
    if (this.children === undefined) {
      const map = new Map<string, string[]>();
      for (const e of this.rootfs.entries()) {
        const parent = parentOf(e.path);
        let list = map.get(parent);
        if (list === undefined) map.set(parent, (list = []));
        list.push(e.path.slice(parent === '' ? 0 : parent.length + 1));
      }
      for (const list of map.values()) list.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      this.children = map;
    }
    return this.children.get(rel) ?? [];
  }
}
