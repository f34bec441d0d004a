/**
 * The runtime layer: the given paths of the runtime image's root (whole subtrees for directories;
 * for a symlink, the symlink and what it resolves to inside the root), with every parent
 * directory, their modes, owners and xattrs, and mtime = epoch, plus the files the caller adds
 * (the host loader's closure, the patched loader; an added file replaces the image's file at the
 * same path). Nothing else of the runtime image's distribution is taken, so the layer is the same
 * whatever the app's distribution is, and it holds no dangling link:
 * - a symlink inside a copied subtree that resolves (in the runtime image) to a file outside every
 *   copied subtree is written as a regular file with that file's content and mode. Gramine's
 *   `runtime/glibc/libmbed*_gramine.so*` -> `../../../...` are such links; copying their targets
 *   to where they are in the runtime image instead would put files into the app's own library
 *   directories (and depend on the app image having the same directory layout);
 * - one that resolves to a directory outside is refused (E_CONFIG); one that resolves to nothing
 *   is left out (it could only ever fail to open).
 * File contents are first spooled to temp files (the rootfs delivers them in layer order, the
 * tar needs path order), then streamed into the tar.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
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
  /**
   * The app's entry at a path, when the app image has one: a directory the app also has keeps the
   * app's mode, owner and xattrs, so the layer (which sits above the app's) changes nothing of the
   * app's tree but adding the runtime.
   */
  appEntry?: (path: string) => RootfsEntry | undefined;
  onBytes?: (n: number) => void;
}

/** A file the caller puts into the runtime layer (absolute path; owner root). */
export interface RuntimeAddedFile {
  path: string;
  content: Buffer;
  mode: number;
}

/** The built layer and what it holds (normalised path -> type), for conflict checks. */
export interface RuntimeLayer {
  layer: SpooledLayer;
  entries: Map<string, EntryType>;
}

/** What to copy: normalised path -> the entry whose content and mode it gets (itself, or a dereferenced link's target). */
type Selection = Map<string, RootfsEntry>;

function outside(path: string, target: RootfsEntry): CconvError {
  return new CconvError('E_CONFIG', `the runtime image's /${path} links to the ${target.type} /${target.path}, outside the runtime directories cconv copies`, {
    hint: 'a runtime image whose pkglibdir links to directories elsewhere is not supported; copy them into pkglibdir',
  });
}

/** The paths to copy: each path, directory subtrees, symlink targets (see the module comment), parents. */
function selectPaths(rootfs: Rootfs, paths: readonly string[]): Selection {
  const selected: Selection = new Map();
  const roots: string[] = [];
  const queue = paths.map((p) => normalizeImagePath(p, 'runtime path'));
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (selected.has(path)) continue;
    const e = rootfs.get(path);
    if (e === undefined) {
      throw new CconvError('E_CONFIG', `the runtime image has no /${path} (or it lies behind a symlink)`, {
        hint: 'runtime paths must be real paths in the runtime image (Gramine\'s pkglibdir)',
      });
    }
    selected.set(path, e);
    if (e.type === 'dir') roots.push(path);
    if (e.type === 'symlink') {
      const target = rootfs.resolve(path);
      if (target !== undefined && target.path !== '') queue.push(`/${target.path}`);
    }
  }
  const within = (p: string): boolean => roots.some((r) => p === r || p.startsWith(`${r}/`));
  if (roots.length > 0) {
    for (const e of rootfs.entries()) {
      if (!roots.some((r) => e.path.startsWith(`${r}/`))) continue;
      if (e.type !== 'symlink') {
        selected.set(e.path, e);
        continue;
      }
      const target = rootfs.resolve(e.path);
      if (target === undefined) continue; // dangling in the runtime image itself
      if (within(target.path) || selected.has(target.path)) selected.set(e.path, e);
      else if (target.type === 'file') selected.set(e.path, target);
      else throw outside(e.path, target);
    }
  }
  for (const p of [...selected.keys()]) {
    for (const parent of parentsOf(p)) if (!selected.has(parent)) selected.set(parent, rootfs.get(parent)!);
  }
  return selected;
}

/** Spools the content of the source files (real paths) to their spool files in `workDir`. */
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

/** The tar item of `e` at `path` (e is a dereferenced link's target when they differ). */
function itemOf(path: string, e: RootfsEntry, epoch: number): TarItem {
  const item: TarItem = { name: e.type === 'dir' ? `${path}/` : path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: epoch };
  if (e.type === 'symlink') item.linkname = e.linkTarget ?? '';
  if (e.type === 'char' || e.type === 'block') {
    item.devmajor = e.devmajor ?? 0;
    item.devminor = e.devminor ?? 0;
  }
  if (e.xattrs && Object.keys(e.xattrs).length > 0) item.xattrs = e.xattrs;
  return item;
}

/**
 * Builds the runtime layer from `rootfs` into `options.file`, with `added` files over it. E_CONFIG
 * when a path is missing from the runtime image or links to a directory outside it; the rootfs's
 * errors when its layers cannot be read again.
 */
export async function buildRuntimeLayer(rootfs: Rootfs, paths: readonly string[], added: readonly RuntimeAddedFile[], options: RuntimeLayerOptions): Promise<RuntimeLayer> {
  const selected = selectPaths(rootfs, paths);
  const extra = new Map(added.map((f) => [normalizeImagePath(f.path, 'runtime file'), f]));
  for (const path of extra.keys()) {
    for (const parent of parentsOf(path)) {
      const e = selected.has(parent) ? undefined : rootfs.resolve(parent);
      if (e !== undefined && e.type === 'dir') selected.set(parent, { ...e, path: parent });
      else if (!selected.has(parent)) selected.set(parent, { path: parent, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, size: 0, layer: -1 });
    }
  }
  const chosen = [...new Set([...selected.keys(), ...extra.keys()])].sort(comparePaths);
  const entries = new Map<string, EntryType>();
  const spool = new Map<string, string>(); // source real path -> spool file
  const items: TarItem[] = [];
  for (const path of chosen) {
    const add = extra.get(path);
    if (add !== undefined) {
      entries.set(path, 'file');
      items.push({ name: path, type: 'file', mode: add.mode, uid: 0, gid: 0, mtime: options.epoch, size: add.content.length, content: () => Readable.from([add.content]) });
      continue;
    }
    const own = selected.get(path)!;
    const app = own.type === 'dir' ? options.appEntry?.(path) : undefined;
    const e = app?.type === 'dir' ? app : own;
    entries.set(path, e.type);
    const item = itemOf(path, e, options.epoch);
    if (e.type === 'file') {
      const to = e.hardlinkTo;
      if (e.path === path && to !== undefined && entries.get(to) === 'file' && !extra.has(to)) {
        // The target is already in this tar: a hardlink keeps the two names one inode, as in the image.
        item.type = 'hardlink';
        item.linkname = to;
      } else {
        let file = spool.get(e.path);
        if (file === undefined) {
          file = join(options.workDir, `runtime-${spool.size}`);
          spool.set(e.path, file);
        }
        const from = file;
        item.size = e.size;
        item.content = () => createReadStream(from);
      }
    }
    items.push(item);
  }
  await spoolContents(rootfs, spool);
  const layer = await spoolLayer(tarStream(items), options.file, options.onBytes);
  return { layer, entries };
}
