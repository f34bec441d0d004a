/** The `Rootfs` implementation over a finished tree: listing, lookup, symlink resolution, content. */
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import { deliverContents, type ContentRequest } from './contents.ts';
import { compareNames } from './paths.ts';
import { toEntry, type Node } from './tree.ts';
import type { ContentVisitor, Rootfs, RootfsEntry, RootfsTotals } from './types.ts';

/** Most symlinks followed in one resolution (Linux's limit). */
export const MAX_SYMLINKS = 40;
/** Default `maxBytes` of `readFile`. */
export const DEFAULT_READ_FILE_MAX = 1024 * 1024;

type LayerSource = Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>;

/** Yields [node, path] depth-first, children sorted bytewise; the root is not yielded. */
function* walk(root: Node): Generator<[Node, string]> {
  const stack: Array<[Node, string]> = [[root, '']];
  while (stack.length > 0) {
    const [n, path] = stack.pop()!;
    if (n !== root) yield [n, path];
    if (n.children && n.children.size > 0) {
      const names = [...n.children.keys()].sort(compareNames);
      for (let i = names.length - 1; i >= 0; i--) {
        const name = names[i]!;
        stack.push([n.children.get(name)!, path === '' ? name : `${path}/${name}`]);
      }
    }
  }
}

/** Splits a lookup path leniently: leading '/', './', '//' and trailing '/' are fine. */
function lookupParts(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** A read-only flattened root filesystem; see `Rootfs` for the contract of each method. */
export class RootfsView implements Rootfs {
  readonly totals: RootfsTotals;
  /** Hardlink node -> the node it is reported as linking to. */
  private readonly links = new Map<Node, Node>();
  private readonly layers: Map<number, LayerSource>;

  constructor(
    private readonly root: Node,
    layers: readonly LayerSource[],
  ) {
    this.layers = new Map(layers.map((l) => [l.index, l]));
    const totals: RootfsTotals = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, other: 0, bytes: 0 };
    // The content's first holder stays primary while it is live; otherwise the first in listing order.
    const primary = new Map<Node, Node>();
    for (const [n] of walk(root)) {
      if (n.type === 'dir') totals.dirs++;
      else if (n.type === 'symlink') totals.symlinks++;
      else if (n.type !== 'file') totals.other++;
      else {
        const owner = n.owner;
        let p = primary.get(owner);
        if (p === undefined) primary.set(owner, (p = owner === n || owner.live ? owner : n));
        if (p === n) {
          totals.files++;
          totals.bytes += owner.size;
        } else {
          totals.hardlinks++;
          this.links.set(n, p);
        }
      }
    }
    this.totals = Object.freeze(totals);
  }

  private entryOf(n: Node, path: string): RootfsEntry {
    return toEntry(n, path, this.links.get(n)?.path);
  }

  *entries(): Iterable<RootfsEntry> {
    for (const [n, path] of walk(this.root)) yield this.entryOf(n, path);
  }

  get(path: string): RootfsEntry | undefined {
    const parts = lookupParts(path);
    if (parts.includes('..')) return undefined;
    let n: Node | undefined = this.root;
    for (const p of parts) n = n?.children?.get(p);
    return n && this.entryOf(n, parts.join('/'));
  }

  resolve(path: string, options: { followLast?: boolean } = {}): RootfsEntry | undefined {
    const n = this.resolveNode(path, options.followLast !== false);
    return n && this.entryOf(n, n.path);
  }

  private resolveNode(path: string, followLast: boolean): Node | undefined {
    const stack: Node[] = [this.root];
    const queue = lookupParts(path).reverse(); // next component at the end
    let links = 0;
    while (queue.length > 0) {
      const c = queue.pop()!;
      if (c === '..') {
        if (stack.length > 1) stack.pop(); // '..' stops at the root
        continue;
      }
      const child = stack[stack.length - 1]!.children?.get(c);
      if (child === undefined) return undefined;
      if (child.type === 'symlink' && (queue.length > 0 || followLast)) {
        if (++links > MAX_SYMLINKS) throw new CconvError('E_LINK_INVALID', `${JSON.stringify(path)}: too many levels of symbolic links`);
        const target = child.linkTarget!;
        if (target.startsWith('/')) stack.length = 1;
        queue.push(...lookupParts(target).reverse());
        continue;
      }
      if (child.type !== 'dir' && queue.length > 0) return undefined;
      stack.push(child);
    }
    return stack[stack.length - 1];
  }

  async readContents(select: (entry: RootfsEntry) => boolean, visitor: ContentVisitor): Promise<void> {
    const requests: ContentRequest[] = [];
    for (const [n, path] of walk(this.root)) {
      if (n.type !== 'file') continue;
      const entry = this.entryOf(n, path);
      if (!select(entry)) continue;
      const o = n.owner;
      requests.push({ entry, layer: o.contentLayer, member: o.member, sha256: entry.sha256 });
    }
    await deliverContents(this.layers, requests, visitor);
  }

  async readFile(path: string, maxBytes = DEFAULT_READ_FILE_MAX): Promise<Buffer | undefined> {
    const n = this.resolveNode(path, true);
    if (n === undefined || n.type !== 'file') return undefined;
    const o = n.owner;
    if (o.size > maxBytes) {
      throw new CconvError('E_UNSUPPORTED', `${JSON.stringify(path)}: file is ${o.size} bytes, over the ${maxBytes}-byte limit`);
    }
    const parts: Buffer[] = [];
    const entry = this.entryOf(n, n.path);
    await deliverContents(this.layers, [{ entry, layer: o.contentLayer, member: o.member, sha256: entry.sha256 }], async (_e, s) => {
      for await (const c of s) parts.push(c as Buffer);
    });
    return Buffer.concat(parts);
  }
}
