/**
 * An in-memory `Rootfs` for unit tests, behaving like the real flattened view: entries in
 * depth-first order with children sorted bytewise, parents created implicitly, sha256 of every
 * file (hardlinks share their target's content), and symlinks resolved inside the root as a
 * chroot would (absolute targets restart at the root, '..' stops at the root, over 40 links ->
 * E_LINK_INVALID; resolving to the root gives an entry with path ""). Nothing on the host is
 * ever looked at. readFile over maxBytes is E_UNSUPPORTED, as in the real view. Paths may be
 * given with or without a leading '/'.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CconvError } from '../../src/errors.ts';
import type { EntryType, Rootfs, RootfsEntry, RootfsTotals } from '../../src/rootfs/types.ts';

/** One entry to put in the fake root. */
export interface FakeEntry {
  path: string;
  type: EntryType;
  content?: Buffer | string;
  linkTarget?: string;
  hardlinkTo?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A regular file (mode 0644 unless given). */
export function file(path: string, content: Buffer | string, mode = 0o644): FakeEntry {
  return { path, type: 'file', content, mode };
}
/** An executable file (mode 0755). */
export function exe(path: string, content: Buffer | string = `#!bin ${path}`): FakeEntry {
  return { path, type: 'file', content, mode: 0o755 };
}
/** A directory. */
export function dir(path: string): FakeEntry {
  return { path, type: 'dir', mode: 0o755 };
}
/** A symlink to `target` (stored as given). */
export function symlink(path: string, target: string): FakeEntry {
  return { path, type: 'symlink', linkTarget: target, mode: 0o777 };
}
/** A hardlink to the file at `to`. */
export function hardlink(path: string, to: string): FakeEntry {
  return { path, type: 'file', hardlinkTo: norm(to), mode: 0o644 };
}
/** A character device. */
export function chardev(path: string): FakeEntry {
  return { path, type: 'char', mode: 0o666 };
}

function norm(path: string): string {
  return path.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function compareTreeOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
  }
  return pa.length - pb.length;
}

/** Options of `fakeRootfs`. */
export interface FakeRootfsOptions {
  /** Set sha256 on file entries (as flatten with hash: true). Default true. */
  hash?: boolean;
}

/** Builds the fake view. Later entries with the same path replace earlier ones. */
export function fakeRootfs(list: readonly FakeEntry[], options: FakeRootfsOptions = {}): Rootfs & { readCount: number } {
  const hash = options.hash ?? true;
  const specs = new Map<string, FakeEntry>();
  for (const e of list) {
    const p = norm(e.path);
    for (let d = parentOf(p); d !== ''; d = parentOf(d)) if (!specs.has(d)) specs.set(d, dir(d));
    specs.set(p, { ...e, path: p });
  }
  const contents = new Map<string, Buffer>();
  const entries = new Map<string, RootfsEntry>();
  for (const [p, s] of specs) {
    if (s.type === 'file' && s.hardlinkTo === undefined) contents.set(p, Buffer.from(s.content ?? ''));
  }
  for (const [p, s] of specs) {
    const content = s.type === 'file' ? contents.get(s.hardlinkTo ?? p) : undefined;
    if (s.type === 'file' && content === undefined) throw new Error(`fake rootfs: hardlink ${p} to missing ${s.hardlinkTo}`);
    entries.set(p, {
      path: p,
      type: s.type,
      mode: s.mode ?? 0o644,
      uid: s.uid ?? 0,
      gid: s.gid ?? 0,
      mtime: 0,
      size: content?.length ?? 0,
      layer: 0,
      ...(s.linkTarget === undefined ? {} : { linkTarget: s.linkTarget }),
      ...(s.hardlinkTo === undefined ? {} : { hardlinkTo: s.hardlinkTo }),
      ...(content !== undefined && hash ? { sha256: createHash('sha256').update(content).digest('hex') } : {}),
    });
  }
  const ordered = [...entries.values()].sort((a, b) => compareTreeOrder(a.path, b.path));

  // Like the real view, resolving to the root gives an entry with path '' (never listed by entries()).
  const rootEntry: RootfsEntry = { path: '', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, layer: 0 };
  const resolve = (path: string, opts: { followLast?: boolean } = {}): RootfsEntry | undefined => {
    const followLast = opts.followLast ?? true;
    const queue = path.split('/').filter((p) => p !== '' && p !== '.');
    let cur = '';
    let links = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '..') {
        cur = parentOf(cur);
        continue;
      }
      const next = cur === '' ? part : `${cur}/${part}`;
      const e = entries.get(next);
      const isLast = queue.length === 0;
      if (e?.type === 'symlink' && (!isLast || followLast)) {
        if (++links > 40) throw new CconvError('E_LINK_INVALID', `symlink loop at /${next}`);
        const target = e.linkTarget ?? '';
        if (target.startsWith('/')) cur = '';
        queue.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
        continue;
      }
      if (e === undefined) return undefined;
      if (!isLast && e.type !== 'dir') return undefined;
      cur = next;
    }
    return cur === '' ? rootEntry : entries.get(cur);
  };

  const totals: RootfsTotals = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, other: 0, bytes: 0 };
  for (const e of ordered) {
    if (e.type === 'file' && e.hardlinkTo !== undefined) totals.hardlinks++;
    else if (e.type === 'file') {
      totals.files++;
      totals.bytes += e.size;
    } else if (e.type === 'dir') totals.dirs++;
    else if (e.type === 'symlink') totals.symlinks++;
    else totals.other++;
  }

  const fake = {
    readCount: 0,
    entries: () => ordered[Symbol.iterator](),
    get: (path: string) => entries.get(norm(path)),
    resolve,
    totals,
    async readContents(select: (e: RootfsEntry) => boolean, visitor: (e: RootfsEntry, c: Readable) => Promise<void>) {
      for (const e of ordered) {
        if (e.type !== 'file' || !select(e)) continue;
        await visitor(e, Readable.from([contents.get(e.hardlinkTo ?? e.path)!]));
      }
    },
    async readFile(path: string, maxBytes = 1 << 20): Promise<Buffer | undefined> {
      fake.readCount++;
      const e = resolve(path);
      if (e === undefined || e.type !== 'file') return undefined;
      const content = contents.get(e.hardlinkTo ?? e.path)!;
      if (content.length > maxBytes) throw new CconvError('E_UNSUPPORTED', `/${e.path} is over ${maxBytes} bytes`);
      return Buffer.from(content);
    },
  };
  return fake;
}
