/**
 * Applies one layer's tar members to the tree, following OCI image-spec layer.md: whiteouts and
 * opaque markers hide lower-layer entries only (so order within a layer does not matter), a
 * non-directory replaces a directory with its subtree, a directory over a directory updates its
 * metadata and keeps its children, missing parents are created (0755, root, mtime 0).
 */
import { CconvError, type ErrorCode } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import type { EntryBudget } from './limits.ts';
import { OPAQUE_MARKER, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX, splitPath, symlinkEscapes } from './paths.ts';
import type { ScannedMember } from './scan.ts';
import { Node, keepAfterPrune, pruneLower } from './tree.ts';

/** Applies the scanned members of one layer, in tar order, to `root`. */
export class LayerApplier {
  private readonly idx: number;

  constructor(
    private readonly root: Node,
    private readonly layer: Pick<Layer, 'index' | 'descriptor'>,
    /** Charged one entry per directory created implicitly (the caller charges the members). */
    private readonly budget?: EntryBudget,
  ) {
    this.idx = layer.index;
  }

  /** An error naming this layer (index and digest) and the member path. */
  fail(code: ErrorCode, path: string, reason: string): CconvError {
    return new CconvError(code, `layer ${this.idx} (${this.layer.descriptor.digest}): ${JSON.stringify(path)}: ${reason}`);
  }

  /** Applies one member (its content was hashed, if at all, by the scan). */
  apply(e: ScannedMember): void {
    if (!e.nameValid) throw this.fail('E_UNSAFE_PATH', e.name, 'path is not valid UTF-8 or contains NUL');
    const sp = splitPath(e.name);
    if (!sp.ok) throw this.fail('E_UNSAFE_PATH', e.name, sp.reason === 'absolute' ? 'absolute path' : sp.reason === 'nul' ? 'NUL in path' : "'..' in path");
    const parts = sp.parts;
    if (parts.some((p) => p.startsWith(WHITEOUT_META_PREFIX) && p !== OPAQUE_MARKER)) return; // AUFS metadata: ignored
    const base = parts[parts.length - 1] ?? '';
    if (parts.slice(0, -1).some((p) => p.startsWith(WHITEOUT_PREFIX))) {
      throw this.fail('E_WHITEOUT_INVALID', e.name, 'entry below a whiteout');
    }
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(e.name, parts.slice(0, -1), base);
    if (e.type === 'unsupported') throw this.fail('E_UNSUPPORTED', e.name, `unsupported tar type ${JSON.stringify(e.typeflag)}`);
    if ((e.type === 'link' || e.type === 'symlink') && !e.linkValid) throw this.fail('E_UNSAFE_PATH', e.name, 'link target is not valid UTF-8 or contains NUL');
    if (parts.length === 0) {
      if (e.type !== 'dir') throw this.fail('E_UNSAFE_PATH', e.name, 'the root must be a directory');
      this.setMeta(this.root, e);
      return;
    }
    const parent = this.walkDir(e.name, parts.slice(0, -1), true)!;
    const existing = parent.children!.get(base);
    if (e.type === 'dir' && existing?.type === 'dir') {
      this.setMeta(existing, e);
      return;
    }
    const node = new Node(base, parent, e.type === 'link' ? 'file' : e.type, e.mode, e.uid, e.gid, e.mtime, this.idx);
    if (e.type === 'link') this.hardlink(node, e, e.name);
    else if (e.type === 'file') {
      node.size = e.size;
      node.contentLayer = this.idx;
      node.member = e.ordinal;
      node.sha256 = e.sha256;
    }
    else if (e.type === 'symlink') {
      if (symlinkEscapes(parts.length - 1, e.linkname)) throw this.fail('E_LINK_ESCAPE', e.name, `symlink target ${JSON.stringify(e.linkname)} climbs above the root`);
      node.linkTarget = e.linkname;
    } else if (e.type === 'char' || e.type === 'block') node.extra = { devmajor: e.devmajor, devminor: e.devminor };
    if (e.xattrs && e.type !== 'link') node.extra = { ...node.extra, xattrs: e.xattrs };
    parent.children!.set(base, node); // replaces any previous entry, a directory with its subtree
  }

  private setMeta(n: Node, e: ScannedMember): void {
    n.mode = e.mode;
    n.uid = e.uid;
    n.gid = e.gid;
    n.mtime = e.mtime;
    n.layer = this.idx;
    n.extra = e.xattrs ? { xattrs: e.xattrs } : undefined;
  }

  private hardlink(node: Node, e: ScannedMember, path: string): void {
    const sp = splitPath(e.linkname);
    if (!sp.ok || sp.parts.length === 0) throw this.fail('E_LINK_ESCAPE', path, `hardlink target ${JSON.stringify(e.linkname)} is not inside the root`);
    const target = this.lookup(sp.parts);
    if (target === undefined || target.type !== 'file') {
      throw this.fail('E_LINK_INVALID', path, `hardlink target ${JSON.stringify(e.linkname)} ${target ? 'is not a regular file' : 'does not exist'}`);
    }
    // A hardlink shares the target's inode: its content and metadata.
    node.src = target.owner;
    node.mode = target.mode;
    node.uid = target.uid;
    node.gid = target.gid;
    node.mtime = target.mtime;
    node.extra = target.extra;
  }

  /** The node at exactly `parts` (no symlink following), or undefined. */
  private lookup(parts: readonly string[]): Node | undefined {
    let n: Node | undefined = this.root;
    for (const p of parts) n = n?.children?.get(p);
    return n;
  }

  /**
   * Walks to the directory at `parts`. Missing directories are created when `create` is set, else
   * the walk returns undefined. A symlink or non-directory on the way is E_UNSAFE_PATH.
   */
  private walkDir(path: string, parts: readonly string[], create: boolean): Node | undefined {
    let n = this.root;
    for (const p of parts) {
      let c = n.children!.get(p);
      if (c === undefined) {
        if (!create) return undefined;
        this.budget?.take(1, this.layer);
        c = new Node(p, n, 'dir', 0o755, 0, 0, 0, this.idx);
        n.children!.set(p, c);
      } else if (c.type !== 'dir') {
        const why = c.type === 'symlink' ? 'a layer may not write through a symlink' : 'parent is not a directory';
        throw this.fail('E_UNSAFE_PATH', path, `${why} (${JSON.stringify(c.path)})`);
      }
      n = c;
    }
    return n;
  }

  private whiteout(path: string, dirParts: string[], base: string): void {
    if (base === OPAQUE_MARKER) {
      pruneLower(this.walkDir(path, dirParts, true)!, this.idx);
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw this.fail('E_WHITEOUT_INVALID', path, 'whiteout names no entry of its directory');
    const dir = this.walkDir(path, dirParts, false);
    const victim = dir?.children!.get(name);
    if (victim && !keepAfterPrune(victim, this.idx)) dir!.children!.delete(name);
  }
}
