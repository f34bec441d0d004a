/**
 * Comparable views of a root filesystem, built from three independent sources: cconv's `Rootfs`,
 * a tar stream (`docker export`), and an unpacked directory (`umoci unpack`). A view maps each
 * path to its type, permission bits, owner, content sha256/size, link target or device numbers;
 * hardlinks are reported as files plus a separate list of hardlink groups (who links to whom is
 * representation, which names share an inode is semantics).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import type { Rootfs } from '../../src/rootfs/index.ts';

/** One path's comparable facts. */
export interface NodeView {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
  /** Permission and special bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  link?: string;
  dev?: string;
}

/** A whole tree: entries by normalised path (no leading/trailing '/'), and hardlink groups. */
export interface TreeView {
  entries: Record<string, NodeView>;
  /** Each group: the sorted paths sharing one file; groups sorted by first path. */
  hardlinkGroups: string[][];
}

/** Strips './', leading and trailing '/'. */
export function normalise(p: string): string {
  return p.replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Sorted groups from pairs of linked paths (union-find). */
function groups(pairs: Array<[string, string]>): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  for (const [a, b] of pairs) {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    parent.set(find(a), find(b));
  }
  const byRoot = new Map<string, string[]>();
  for (const x of parent.keys()) byRoot.set(find(x), [...(byRoot.get(find(x)) ?? []), x]);
  return [...byRoot.values()].map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Sorts entries by path so deepEqual diffs read well. */
function sorted(entries: Record<string, NodeView>): Record<string, NodeView> {
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The view cconv's flatten() gives. Hardlinks take their target's content facts. */
export function viewFromRootfs(rootfs: Rootfs): TreeView {
  const entries: Record<string, NodeView> = {};
  const pairs: Array<[string, string]> = [];
  for (const e of rootfs.entries()) {
    const v: NodeView = { type: e.type, mode: e.mode & 0o7777, uid: e.uid, gid: e.gid };
    if (e.type === 'file') {
      let target = e;
      if (e.hardlinkTo !== undefined) {
        pairs.push([e.path, e.hardlinkTo]);
        target = rootfs.get(e.hardlinkTo) ?? e;
      }
      v.size = target.size;
      if (target.sha256 !== undefined) v.sha256 = target.sha256;
    }
    if (e.type === 'symlink') v.link = e.linkTarget ?? '';
    if (e.type === 'char' || e.type === 'block') v.dev = `${e.devmajor},${e.devminor}`;
    entries[e.path] = v;
  }
  return { entries: sorted(entries), hardlinkGroups: groups(pairs) };
}

const TAR_TYPES: Record<string, NodeView['type']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

/** The view of a tar stream such as `docker export` (consumes the stream). */
export async function viewFromTar(stream: Readable): Promise<TreeView> {
  const entries: Record<string, NodeView> = {};
  const links: Array<[string, string]> = [];
  const ex = extract();
  stream.pipe(ex);
  for await (const entry of ex) {
    const h = entry.header;
    const path = normalise(h.name);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of entry) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    if (path === '') continue;
    if (h.type === 'link') {
      links.push([path, normalise(h.linkname ?? '')]);
      entries[path] = { type: 'file', mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0 };
      continue;
    }
    const type = TAR_TYPES[h.type ?? 'file'];
    if (type === undefined) throw new Error(`unexpected tar entry type ${h.type} at ${path}`);
    const v: NodeView = { type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0 };
    if (type === 'file') Object.assign(v, { size, sha256: hash.digest('hex') });
    if (type === 'symlink') v.link = h.linkname ?? '';
    if (type === 'char' || type === 'block') v.dev = `${h.devmajor ?? 0},${h.devminor ?? 0}`;
    entries[path] = v;
  }
  for (const [path, target] of links) {
    const t = entries[target];
    if (t === undefined) throw new Error(`tar hardlink ${path} -> ${target}: target not seen`);
    Object.assign(entries[path]!, { size: t.size, sha256: t.sha256 });
  }
  return { entries: sorted(entries), hardlinkGroups: groups(links) };
}

/** The view of an unpacked directory (lstat, readlink, sha256; hardlinks by inode). */
export async function viewFromDir(root: string): Promise<TreeView> {
  const entries: Record<string, NodeView> = {};
  const byInode = new Map<string, string>();
  const pairs: Array<[string, string]> = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = await lstat(abs);
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        entries[path] = { type: 'dir', ...base };
        await walk(path);
      } else if (st.isSymbolicLink()) {
        entries[path] = { type: 'symlink', ...base, link: await readlink(abs) };
      } else if (st.isFile()) {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(abs)) hash.update(chunk as Buffer);
        entries[path] = { type: 'file', ...base, size: st.size, sha256: hash.digest('hex') };
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          const first = byInode.get(key);
          if (first === undefined) byInode.set(key, path);
          else pairs.push([path, first]);
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn) | Number((BigInt(st.rdev) >> 32n) & ~0xfffn);
        const minor = Number(BigInt(st.rdev) & 0xffn) | Number((BigInt(st.rdev) >> 12n) & ~0xffn);
        entries[path] = { type: st.isCharacterDevice() ? 'char' : 'block', ...base, dev: `${major},${minor}` };
      } else if (st.isFIFO()) {
        entries[path] = { type: 'fifo', ...base };
      } else {
        throw new Error(`unexpected file type at ${path}`);
      }
    }
  };
  await walk('');
  return { entries: sorted(entries), hardlinkGroups: groups(pairs) };
}

/** Drops the given paths (and, for names ending in '/**', everything below them) from a view. */
export function without(view: TreeView, paths: readonly string[]): TreeView {
  const drop = (p: string): boolean => paths.some((x) => (x.endsWith('/**') ? p.startsWith(x.slice(0, -2)) : p === x));
  const entries = Object.fromEntries(Object.entries(view.entries).filter(([p]) => !drop(p)));
  const hardlinkGroups = view.hardlinkGroups.map((g) => g.filter((p) => !drop(p))).filter((g) => g.length > 1);
  return { entries, hardlinkGroups };
}
