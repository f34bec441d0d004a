/**
 * The reference for the rootfs fuzz test: a small layer applier over a plain Map of paths, written
 * from the OCI image-spec (layer.md) and README.md's "Root-filesystem view" rather than from
 * src/rootfs: whiteouts hide lower layers only, an opaque marker hides its
 * directory's lower contents, a lower directory that still holds this layer's entries after a
 * whiteout stays with implicit metadata (0755), missing parents are created 0755, and what cconv
 * refuses (unsafe paths, writing through a symlink, escaping links, bad whiteouts, NUL in PAX
 * names, the limits) is an expected refusal with its code.
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../src/errors.ts';
import type { Member } from './fuzz-tar.ts';

/** An entry of the model's tree. */
export interface ModelNode {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** The layer that last wrote it. */
  layer: number;
  sha256?: string;
  size?: number;
  target?: string;
}

/**
 * What reaches flatten for one layer: all members intact, only the first `keep` (a tar cut on a
 * member boundary), a layer that must be refused (`codes`: cut inside a member, a corrupt
 * compressed stream, a blob whose bytes disagree with its media type), or bytes damaged anyhow.
 */
export type LayerState = { kind: 'intact' } | { kind: 'prefix'; keep: number } | { kind: 'refused' } | { kind: 'damaged' };

/** The model's verdict: the tree, a refusal with one of `codes`, or `unknown` (damaged bytes). */
export type Expected = { kind: 'tree'; tree: Map<string, ModelNode> } | { kind: 'refused'; codes: Set<ErrorCode>; why: string } | { kind: 'unknown' };

class Refusal extends Error {
  constructor(readonly code: ErrorCode, why: string) {
    super(why);
  }
}

const SCAN_PATH_MAX = 64 * 1024;
const NAME_MAX = 255;

/** Refusals met while a layer is read, before any of it is applied: NUL in PAX names, the limits. */
function scanRefusal(members: readonly Member[], maxEntries: number): Refusal | undefined {
  for (const [i, m] of members.entries()) {
    if (m.nul) return new Refusal('E_LAYER_CORRUPT', `NUL in PAX ${m.nul} of ${JSON.stringify(m.name)}`);
    if (i + 1 > maxEntries) return new Refusal('E_UNSUPPORTED', 'a layer over maxEntries');
    const over = Buffer.byteLength(m.name) > SCAN_PATH_MAX || Buffer.byteLength(m.link ?? '') > SCAN_PATH_MAX;
    if (over || m.name.split('/').some((c) => Buffer.byteLength(c) > NAME_MAX)) return new Refusal('E_UNSUPPORTED', `path limits: ${m.name.slice(0, 40)}`);
  }
  return undefined;
}

/** The expected outcome of flattening `layers` in order, with `maxEntries` in force. */
export function expectFlatten(layers: ReadonlyArray<{ members: readonly Member[]; state: LayerState }>, maxEntries = 1_000_000): Expected {
  const model = new Model(maxEntries);
  try {
    for (const [i, l] of layers.entries()) {
      if (l.state.kind === 'damaged') return { kind: 'unknown' };
      const members = l.state.kind === 'prefix' ? l.members.slice(0, l.state.keep) : l.members;
      const scan = scanRefusal(members, maxEntries);
      if (l.state.kind === 'refused') {
        // Where the cut falls decides whether a member's refusal while reading comes first.
        const codes = new Set<ErrorCode>(['E_LAYER_CORRUPT', ...(scan ? [scan.code] : [])]);
        return { kind: 'refused', codes, why: `layer ${i} is cut or mislabelled` };
      }
      if (scan) throw scan;
      model.applyLayer(i, members);
    }
  } catch (err) {
    if (err instanceof Refusal) return { kind: 'refused', codes: new Set([err.code]), why: err.message };
    throw err;
  }
  return { kind: 'tree', tree: model.tree };
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The layer applier over a Map from path ('a/b', root '') to node. */
class Model {
  readonly tree = new Map<string, ModelNode>([['', { type: 'dir', mode: 0o755, layer: -1 }]]);
  private entries = 0;
  private layer = 0;

  constructor(private readonly maxEntries: number) {}

  applyLayer(index: number, members: readonly Member[]): void {
    this.layer = index;
    this.count(members.length);
    for (const m of members) this.apply(m);
  }

  private count(n: number): void {
    this.entries += n;
    if (this.entries > this.maxEntries) throw new Refusal('E_UNSUPPORTED', 'over maxEntries');
  }

  private apply(m: Member): void {
    if (m.name.startsWith('/')) throw new Refusal('E_UNSAFE_PATH', `absolute ${m.name}`);
    const parts = m.name.split('/').filter((c) => c !== '' && c !== '.');
    if (parts.includes('..')) throw new Refusal('E_UNSAFE_PATH', `.. in ${m.name}`);
    if (parts.some((c) => c.startsWith('.wh..wh.') && c !== OPAQUE)) return; // AUFS metadata: ignored
    if (parts.slice(0, -1).some((c) => c.startsWith(WH))) throw new Refusal('E_WHITEOUT_INVALID', `below a whiteout: ${m.name}`);
    const base = parts[parts.length - 1] ?? '';
    const dir = parts.slice(0, -1);
    if (base === OPAQUE) {
      const d = this.walk(dir, true)!;
      for (const c of this.children(d)) this.keep(c);
      return;
    }
    if (base.startsWith(WH)) {
      const name = base.slice(WH.length);
      if (name === '' || name === '.' || name === '..') throw new Refusal('E_WHITEOUT_INVALID', `whiteout ${m.name}`);
      const d = this.walk(dir, false);
      if (d !== undefined && this.tree.has(join(d, name))) this.keep(join(d, name));
      return;
    }
    if (parts.length === 0) {
      if (m.kind !== 'dir') throw new Refusal('E_UNSAFE_PATH', 'root not a directory');
      this.tree.set('', { type: 'dir', mode: m.mode, layer: this.layer });
      return;
    }
    const parent = this.walk(dir, true)!;
    const path = join(parent, base);
    const existing = this.tree.get(path);
    if (m.kind === 'dir' && existing?.type === 'dir') {
      existing.mode = m.mode;
      existing.layer = this.layer;
      return;
    }
    let node: ModelNode;
    if (m.kind === 'hardlink') node = this.hardlinkTo(m.link!);
    else if (m.kind === 'symlink') {
      if (escapes(parts.length - 1, m.link!)) throw new Refusal('E_LINK_ESCAPE', `symlink ${m.name} -> ${m.link}`);
      node = { type: 'symlink', mode: m.mode, layer: this.layer, target: m.link! };
    } else if (m.kind === 'file') {
      const data = m.content ?? Buffer.alloc(0);
      node = { type: 'file', mode: m.mode, layer: this.layer, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    } else node = { type: 'dir', mode: m.mode, layer: this.layer };
    this.removeSubtree(path);
    this.tree.set(path, node);
  }

  /** A hardlink is a new name for an existing regular file: same content and metadata. */
  private hardlinkTo(target: string): ModelNode {
    const parts = target.split('/').filter((c) => c !== '' && c !== '.');
    if (target.startsWith('/') || parts.includes('..') || parts.length === 0) throw new Refusal('E_LINK_ESCAPE', `hardlink to ${target}`);
    const t = this.tree.get(parts.join('/'));
    if (t?.type !== 'file') throw new Refusal('E_LINK_INVALID', `hardlink to ${target}: ${t ? t.type : 'missing'}`);
    return { ...t, layer: this.layer };
  }

  /** The directory at `parts`, creating missing ones (0755) when `create`; undefined when missing. */
  private walk(parts: readonly string[], create: boolean): string | undefined {
    let p = '';
    for (const c of parts) {
      p = join(p, c);
      const n = this.tree.get(p);
      if (n === undefined) {
        if (!create) return undefined;
        this.count(1);
        this.tree.set(p, { type: 'dir', mode: 0o755, layer: this.layer });
      } else if (n.type !== 'dir') throw new Refusal('E_UNSAFE_PATH', `through a ${n.type} at ${p}`);
    }
    return p;
  }

  /** Hides what lower layers wrote at and below `p`; returns whether `p` stays. */
  private keep(p: string): boolean {
    const n = this.tree.get(p)!;
    if (n.layer === this.layer && n.type !== 'dir') return true;
    if (n.type === 'dir') {
      for (const c of this.children(p)) this.keep(c);
      if (n.layer === this.layer) return true;
      if (this.children(p).length > 0) {
        this.tree.set(p, { type: 'dir', mode: 0o755, layer: this.layer });
        return true;
      }
    }
    this.tree.delete(p);
    return false;
  }

  private children(dir: string): string[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.tree.keys()].filter((k) => k !== '' && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'));
  }

  private removeSubtree(p: string): void {
    for (const k of [...this.tree.keys()]) if (k === p || k.startsWith(`${p}/`)) this.tree.delete(k);
  }
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** True when a relative symlink target, read in a directory `depth` levels down, climbs above the root. */
function escapes(depth: number, target: string): boolean {
  if (target.startsWith('/')) return false;
  let d = depth;
  for (const c of target.split('/')) {
    if (c === '..') d--;
    else if (c !== '' && c !== '.') d++;
    if (d < 0) return true;
  }
  return false;
}
