/**
 * The in-memory tree of the flattened root filesystem: metadata only, one small object per entry.
 * Directories hold a Map of children, so whiteouts cost O(subtree), never a scan of all paths.
 */
import type { EntryType, RootfsEntry } from './types.ts';

/** Rare per-entry data kept out of the common object shape. */
export interface NodeExtra {
  devmajor?: number;
  devminor?: number;
  xattrs?: Readonly<Record<string, string>>;
}

/**
 * One entry. For files, `size`/`member`/`sha256` describe the content held in layer `contentLayer`
 * at tar member ordinal `member`; a hardlink has `src` set to the node that owns the content.
 */
export class Node {
  children: Map<string, Node> | undefined;
  linkTarget: string | undefined;
  src: Node | undefined;
  size = 0;
  contentLayer = -1;
  member = -1;
  /** Raw sha256 as a 32-char latin1 string (hex in the public entry). */
  sha256: string | undefined;
  extra: NodeExtra | undefined;

  constructor(
    public name: string,
    public parent: Node | undefined,
    public type: EntryType,
    public mode: number,
    public uid: number,
    public gid: number,
    public mtime: number,
    /** Index of the layer that last wrote this entry (content or metadata). */
    public layer: number,
  ) {
    if (type === 'dir') this.children = new Map();
  }

  /** The node holding this file's content (itself unless it is a hardlink). */
  get owner(): Node {
    return this.src ?? this;
  }

  /** Path from the root ('' for the root). */
  get path(): string {
    const names: string[] = [];
    for (let n: Node | undefined = this; n?.parent; n = n.parent) names.push(n.name);
    return names.reverse().join('/');
  }

  /** True while the node is still reachable from the root (not removed by a later layer). */
  get live(): boolean {
    let n: Node = this;
    while (n.parent) {
      if (n.parent.children?.get(n.name) !== n) return false;
      n = n.parent;
    }
    return n.type === 'dir' && n.name === '';
  }
}

/** A new root directory (mode 0755, owned by root). */
export function newRoot(): Node {
  return new Node('', undefined, 'dir', 0o755, 0, 0, 0, -1);
}

/**
 * Removes from `dir` every child that only lower layers wrote (layer < `current`), recursively,
 * keeping what layer `current` wrote. A lower directory kept only for current-layer descendants
 * gets implicit-directory metadata, so the result does not depend on entry order within the layer.
 */
export function pruneLower(dir: Node, current: number): void {
  for (const [name, child] of dir.children!) {
    if (!keepAfterPrune(child, current)) dir.children!.delete(name);
  }
}

/** Prunes `n`'s lower-layer content; returns whether `n` itself stays. */
export function keepAfterPrune(n: Node, current: number): boolean {
  if (n.layer === current && n.type !== 'dir') return true;
  if (n.type !== 'dir') return false;
  pruneLower(n, current);
  if (n.layer === current) return true;
  if (n.children!.size === 0) return false;
  setImplicitDir(n, current);
  return true;
}

/** Gives `n` the metadata of a directory created implicitly by layer `layer`. */
export function setImplicitDir(n: Node, layer: number): void {
  n.mode = 0o755;
  n.uid = 0;
  n.gid = 0;
  n.mtime = 0;
  n.extra = undefined;
  n.layer = layer;
}

/** The public, immutable view of a node. `hardlinkTo` is decided once the tree is final. */
export function toEntry(n: Node, path: string, hardlinkTo: string | undefined): RootfsEntry {
  const e: {
    -readonly [K in keyof RootfsEntry]: RootfsEntry[K];
  } = { path, type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, mtime: n.mtime, size: 0, layer: n.layer };
  if (n.type === 'file') {
    const o = n.owner;
    e.size = o.size;
    if (o.sha256 !== undefined) e.sha256 = Buffer.from(o.sha256, 'latin1').toString('hex');
    if (hardlinkTo !== undefined) e.hardlinkTo = hardlinkTo;
  }
  if (n.linkTarget !== undefined) e.linkTarget = n.linkTarget;
  if (n.extra?.devmajor !== undefined) e.devmajor = n.extra.devmajor;
  if (n.extra?.devminor !== undefined) e.devminor = n.extra.devminor;
  if (n.extra?.xattrs !== undefined) e.xattrs = n.extra.xattrs;
  return Object.freeze(e);
}
