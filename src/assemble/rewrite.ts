/**
 * Source layers that hold an encrypted path: finding them (every layer, shadowed versions
 * included) and rewriting them without those paths. A rewritten layer has the same members in the
 * same order, with their names, modes, owners, mtimes, link targets, device numbers and xattrs,
 * minus every member at an encrypted path; sparse files are written expanded, other PAX records
 * (atime, ctime, global headers) are not kept. Hardlinks from or to an encrypted path are refused
 * (E_UNSUPPORTED): the other name would keep the plaintext.
 */
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import { layerMembers, translateLayerError, type TarEntry } from '../rootfs/index.ts';
import { spoolLayer, type SpooledLayer } from './layer-file.ts';
import { normalizeMemberName } from './paths.ts';
import { tarStream, type TarItem, type TarItemType } from './tar-writer.ts';

type LayerView = Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>;

/** How many layers are scanned at once (zlib inflates on the thread pool, so this uses several cores). */
const SCAN_CONCURRENCY = 4;

/** Checks one member against the encrypted set; true when it must be dropped. */
function mustDrop(e: TarEntry, encrypted: ReadonlySet<string>, layer: LayerView): boolean {
  const path = e.nameValid ? normalizeMemberName(e.name) : undefined;
  if (path === undefined) {
    throw new CconvError('E_UNSAFE_PATH', `layer ${layer.index} (${layer.descriptor.digest}): unsafe member name ${JSON.stringify(e.name)}`);
  }
  if (e.type === 'link') {
    const target = normalizeMemberName(e.linkname);
    const hit = encrypted.has(path) ? path : target !== undefined && encrypted.has(target) ? target : undefined;
    if (hit !== undefined) {
      throw new CconvError('E_UNSUPPORTED', `layer ${layer.index} (${layer.descriptor.digest}): hardlink ${JSON.stringify(`/${path}`)} -> ${JSON.stringify(`/${target ?? e.linkname}`)} involves the encrypted file /${hit}`, {
        hint: 'encrypt every name of the file, or replace the hardlink by a copy in the source image',
      });
    }
  }
  return encrypted.has(path);
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
 * The indexes of the layers that hold a member at an encrypted path (normalised, e.g. 'app/key'),
 * scanning every layer to its end (digests checked) and up to 4 at a time. Throws E_UNSUPPORTED
 * for a hardlink from or to an encrypted path.
 */
export async function findLayersWith(layers: readonly LayerView[], encrypted: ReadonlySet<string>, onBytes?: (n: number) => void): Promise<Set<number>> {
  const hits = new Set<number>();
  if (encrypted.size === 0) return hits;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < layers.length) {
      const layer = layers[next++]!;
      await eachMember(
        layer,
        (e) => {
          if (mustDrop(e, encrypted, layer)) hits.add(layer.index);
        },
        onBytes,
      );
    }
  };
  const workers = Array.from({ length: Math.min(SCAN_CONCURRENCY, layers.length) }, worker);
  const results = await Promise.allSettled(workers);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return hits;
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

async function* rewrittenItems(layer: LayerView, encrypted: ReadonlySet<string>): AsyncGenerator<TarItem> {
  try {
    for await (const e of layerMembers(layer)) {
      if (mustDrop(e, encrypted, layer)) continue;
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
 * Rewrites `layer` without the members at encrypted paths into a gzip temp file `file`. The
 * source is read to its end (its digests are checked). Errors as `findLayersWith`, plus E_IO.
 */
export async function rewriteLayer(layer: LayerView, encrypted: ReadonlySet<string>, file: string, onBytes?: (n: number) => void): Promise<SpooledLayer> {
  return spoolLayer(tarStream(rewrittenItems(layer, encrypted)), file, onBytes);
}
