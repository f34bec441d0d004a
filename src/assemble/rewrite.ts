/**
 * Source layers that hold an encrypted path: finding them (every layer, shadowed and deleted
 * versions included) and rewriting them without those paths. Which paths are encrypted is a test
 * on a member's normalised path (`DropTest`): the live encrypted files and every path the policy
 * encrypts, so a version that a later layer deletes or replaces (by a whiteout, or by a directory
 * at a file's path) is dropped too. Only regular-file members are dropped: they alone carry
 * content. Directories, symlinks, devices, fifos and whiteouts stay (a whiteout is kept even when
 * its own name matches, so it still hides what it hid).
 *
 * A rewritten layer has the same members in the same order, with their names, modes, owners,
 * mtimes, link targets, device numbers and xattrs, minus the dropped members; sparse files are
 * written expanded, other PAX records (atime, ctime, global headers) are not kept. Hardlinks from
 * or to an encrypted path are refused (E_UNSUPPORTED): the other name would keep the plaintext.
 */
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import { layerMembers, translateLayerError, type TarEntry } from '../rootfs/index.ts';
import type { Rootfs } from '../rootfs/types.ts';
import { spoolLayer, type SpooledLayer } from './layer-file.ts';
import { normalizeMemberName } from './paths.ts';
import { tarStream, type TarItem, type TarItemType } from './tar-writer.ts';

type LayerView = Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>;

/** How many layers are scanned at once (zlib inflates on the thread pool, so this uses several cores). */
const SCAN_CONCURRENCY = 4;

/** True when the regular file at normalised path `path` ('app/key') must be in no layer in plaintext. */
export type DropTest = (path: string) => boolean;

const WHITEOUT_PREFIX = '.wh.';

/** Checks one member; true when it must be dropped. Throws for a hardlink involving a dropped path. */
function mustDrop(e: TarEntry, drops: DropTest, layer: LayerView): boolean {
  const path = e.nameValid ? normalizeMemberName(e.name) : undefined;
  if (path === undefined) {
    throw new CconvError('E_UNSAFE_PATH', `layer ${layer.index} (${layer.descriptor.digest}): unsafe member name ${JSON.stringify(e.name)}`);
  }
  if (e.type === 'link') {
    const target = normalizeMemberName(e.linkname);
    const hit = drops(path) ? path : target !== undefined && drops(target) ? target : undefined;
    if (hit !== undefined) {
      throw new CconvError('E_UNSUPPORTED', `layer ${layer.index} (${layer.descriptor.digest}): hardlink ${JSON.stringify(`/${path}`)} -> ${JSON.stringify(`/${target ?? e.linkname}`)} involves the encrypted file /${hit}`, {
        hint: 'encrypt every name of the file, or replace the hardlink by a copy in the source image',
      });
    }
  }
  if (e.type !== 'file' || path.slice(path.lastIndexOf('/') + 1).startsWith(WHITEOUT_PREFIX)) return false;
  return drops(path);
}

/** Streams one layer's members to `visit`, translating errors; reads the layer to its end. */
async function eachMember(layer: LayerView, visit: (e: TarEntry) => Promise<void> | void, onBytes?: (n: number) => void): Promise<void> {
  try {
    for await (const e of layerMembers(layer, onBytes)) await visit(e);
  } catch (err) {
    throw translateLayerError(err, layer);
  }
}

/**
 * The layers that hold a member `drops` selects, each with the paths of those members (normalised,
 * e.g. 'app/key', in tar order), scanning every layer to its end (digests checked) and up to 4 at
 * a time. Throws E_UNSUPPORTED for a hardlink from or to such a path.
 */
export async function findLayersWith(layers: readonly LayerView[], drops: DropTest, onBytes?: (n: number) => void): Promise<Map<number, string[]>> {
  const hits = new Map<number, string[]>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < layers.length) {
      const layer = layers[next++]!;
      const paths: string[] = [];
      await eachMember(
        layer,
        (e) => {
          if (mustDrop(e, drops, layer)) paths.push(normalizeMemberName(e.name)!);
        },
        onBytes,
      );
      if (paths.length > 0) hits.set(layer.index, paths);
    }
  };
  const workers = Array.from({ length: Math.min(SCAN_CONCURRENCY, layers.length) }, worker);
  const results = await Promise.allSettled(workers);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return hits;
}

/**
 * How many of the members `findLayersWith` found are not the live file at their path in `root`
 * (the flattened source): versions a later layer deletes or replaces, which a rewrite drops too.
 */
export function countShadowed(hits: ReadonlyMap<number, readonly string[]>, root: Pick<Rootfs, 'get'>): number {
  let n = 0;
  for (const [layer, paths] of hits) {
    for (const path of paths) {
      const live = root.get(path);
      if (live?.type !== 'file' || live.layer !== layer) n++;
    }
  }
  return n;
}

const ITEM_TYPE: Partial<Record<TarEntry['type'], TarItemType>> = {
  file: 'file', link: 'hardlink', symlink: 'symlink', char: 'char', block: 'block', dir: 'dir', fifo: 'fifo',
};

/** A member's content, with read errors (truncated tar, corrupt stream) named after the layer. */
async function* body(e: TarEntry, layer: LayerView): AsyncGenerator<Buffer> {
  try {
    yield* e.body();
  } catch (err) {
    throw translateLayerError(err, layer);
  }
}

async function* rewrittenItems(layer: LayerView, drops: DropTest): AsyncGenerator<TarItem> {
  try {
    for await (const e of layerMembers(layer)) {
      if (mustDrop(e, drops, layer)) continue;
      const type = ITEM_TYPE[e.type];
      if (type === undefined) throw new CconvError('E_UNSUPPORTED', `layer ${layer.index}: ${JSON.stringify(e.name)}: unsupported tar type ${JSON.stringify(e.typeflag)}`);
      const item: TarItem = { name: e.name, type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
      if (type === 'file') {
        item.size = e.size;
        item.content = () => body(e, layer);
      }
      if (type === 'hardlink' || type === 'symlink') item.linkname = e.linkname;
      if (type === 'char' || type === 'block') {
        item.devmajor = e.devmajor;
        item.devminor = e.devminor;
      }
      if (e.xattrs) item.xattrs = e.xattrs;
      yield item;
    }
  } catch (err) {
    throw translateLayerError(err, layer);
  }
}

/**
 * Rewrites `layer` without the members `drops` selects into a gzip temp file `file`. The source
 * is read to its end (its digests are checked). Errors as `findLayersWith`, plus E_IO.
 */
export async function rewriteLayer(layer: LayerView, drops: DropTest, file: string, onBytes?: (n: number) => void): Promise<SpooledLayer> {
  return spoolLayer(tarStream(rewrittenItems(layer, drops)), file, onBytes);
}
