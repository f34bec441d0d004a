/**
 * The runtime layer: the given paths of the runtime image's root (whole subtrees for directories;
 * for a symlink, the symlink and what it resolves to inside the root), with every parent
 * directory, their modes, owners and xattrs, and mtime = epoch. Nothing else of the runtime
 * image's distribution is taken, so the layer is the same whatever the app's distribution is.
 * File contents are first spooled to temp files (the rootfs delivers them in layer order, the
 * tar needs path order), then streamed into the tar.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CconvError, wrapIoError } from '../errors.ts';
import type { EntryType, Rootfs, RootfsEntry } from '../rootfs/types.ts';
import { spoolLayer, type SpooledLayer } from './layer-file.ts';
import { comparePaths, normalizeImagePath, parentsOf } from './paths.ts';
import { tarStream, type TarItem } from './tar-writer.ts';

/** Options of `buildRuntimeLayer`. */
export interface RuntimeLayerOptions {
  epoch: number;
  /** A private temp dir (content spool files go there). */
  workDir: string;
  /** The layer's blob file (must not exist). */
  file: string;
  onBytes?: (n: number) => void;
}

/** The built layer and what it holds (normalised path -> type), for conflict checks. */
export interface RuntimeLayer {
  layer: SpooledLayer;
  entries: Map<string, EntryType>;
}

/** The normalised paths to copy: each path, directory subtrees, symlink targets inside the root, parents. */
function selectPaths(rootfs: Rootfs, paths: readonly string[]): Set<string> {
  const selected = new Set<string>();
  const roots: string[] = [];
  const queue = paths.map((p) => normalizeImagePath(p, 'runtime path'));
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (selected.has(path)) continue;
    const e = rootfs.get(path);
    if (e === undefined) {
      throw new CconvError('E_CONFIG', `the runtime image has no /${path} (or it lies behind a symlink)`, {
        hint: 'runtime paths must be real paths in the runtime image (pkglibdir and the loader, e.g. /usr/bin/gramine-sgx)',
      });
    }
    selected.add(path);
    if (e.type === 'dir') roots.push(path);
    if (e.type === 'symlink') {
      const target = rootfs.resolve(path);
      if (target !== undefined && target.path !== '') queue.push(`/${target.path}`);
    }
  }
  if (roots.length > 0) {
    for (const e of rootfs.entries()) {
      if (roots.some((r) => e.path.startsWith(`${r}/`))) selected.add(e.path);
    }
  }
  for (const p of [...selected]) for (const parent of parentsOf(p)) selected.add(parent);
  return selected;
}

/** Spools the content of the selected regular files (not hardlinks written as links) into `workDir`. */
async function spoolContents(rootfs: Rootfs, files: ReadonlyMap<string, string>): Promise<void> {
  await rootfs.readContents(
    (e) => files.has(e.path),
    async (e, content) => {
      const target = files.get(e.path)!;
      try {
        await pipeline(content, createWriteStream(target, { flags: 'wx' }));
      } catch (err) {
        throw wrapIoError(err, `spooling runtime file /${e.path}`);
      }
    },
  );
}

function itemOf(e: RootfsEntry, epoch: number): TarItem {
  const item: TarItem = { name: e.type === 'dir' ? `${e.path}/` : e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: epoch };
  if (e.type === 'symlink') item.linkname = e.linkTarget ?? '';
  if (e.type === 'char' || e.type === 'block') {
    item.devmajor = e.devmajor ?? 0;
    item.devminor = e.devminor ?? 0;
  }
  if (e.xattrs && Object.keys(e.xattrs).length > 0) item.xattrs = e.xattrs;
  return item;
}

/**
 * Builds the runtime layer from `rootfs` into `options.file`. E_CONFIG when a path is missing from
 * the runtime image; the rootfs's errors when its layers cannot be read again.
 */
export async function buildRuntimeLayer(rootfs: Rootfs, paths: readonly string[], options: RuntimeLayerOptions): Promise<RuntimeLayer> {
  const selected = selectPaths(rootfs, paths);
  const chosen = [...rootfs.entries()].filter((e) => selected.has(e.path)).sort((a, b) => comparePaths(a.path, b.path));
  const entries = new Map<string, EntryType>();
  const spool = new Map<string, string>();
  const items: TarItem[] = [];
  for (const e of chosen) {
    entries.set(e.path, e.type);
    const item = itemOf(e, options.epoch);
    if (e.type === 'file') {
      const to = e.hardlinkTo;
      if (to !== undefined && entries.get(to) === 'file') {
        // The target is already in this tar: a hardlink keeps the two names one inode, as in the image.
        item.type = 'hardlink';
        item.linkname = to;
      } else {
        const file = join(options.workDir, `runtime-${spool.size}`);
        spool.set(e.path, file);
        item.size = e.size;
        item.content = () => createReadStream(file);
      }
    }
    items.push(item);
  }
  await spoolContents(rootfs, spool);
  const layer = await spoolLayer(tarStream(items), options.file, options.onBytes);
  return { layer, entries };
}
