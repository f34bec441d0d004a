/**
 * The cconv layer (top): the files cconv adds (`.manifest.sgx`, `.sig`, trusted argv; root-owned,
 * modes as given), the encrypted files' ciphertexts at their original paths (original owner, mode
 * and xattrs), the directories to create (0755 root) and every parent directory the layers below
 * lack (0755 root). Parents the image already has as directories are not written, so their
 * owners and modes stay the app's. All mtimes are the epoch.
 */
import { createReadStream } from 'node:fs';
import { CconvError, wrapIoError } from '../errors.ts';
import type { EntryType, Rootfs } from '../rootfs/types.ts';
import { spoolLayer, type SpooledLayer } from './layer-file.ts';
import { comparePaths, normalizeImagePath, parentsOf } from './paths.ts';
import { tarStream, type TarItem } from './tar-writer.ts';
import type { AddedFile, EncryptedFile } from './types.ts';

/** Inputs of `buildCconvLayer`. */
export interface CconvLayerInput {
  files: readonly AddedFile[];
  encrypted: readonly EncryptedFile[];
  createDirs: readonly string[];
  /** The app's root (metadata of encrypted files). */
  sourceRootfs: Rootfs;
  /** The type at a normalised path in the layers below (runtime and app), or undefined. */
  lowerType: (path: string) => EntryType | undefined;
  epoch: number;
  file: string;
  onBytes?: (n: number) => void;
}

function conflict(path: string, why: string): CconvError {
  return new CconvError('E_CONFIG', `cannot add /${path} to the output image: ${why}`);
}

async function* readCiphertext(enc: EncryptedFile, path: string): AsyncGenerator<Buffer> {
  const file = enc.ciphertextFile;
  const start = enc.offset ?? 0;
  if (enc.size === 0) return;
  try {
    for await (const chunk of createReadStream(file, { start, end: start + enc.size - 1 })) yield chunk as Buffer;
  } catch (err) {
    throw wrapIoError(err, `reading the ciphertext of /${path} (${file})`);
  }
}

/** The layer's members, sorted depth-first by name. E_CONFIG on a duplicate or conflicting path. */
export function cconvLayerItems(input: Omit<CconvLayerInput, 'file' | 'onBytes'>): TarItem[] {
  const items = new Map<string, TarItem>();
  const add = (path: string, item: TarItem): void => {
    if (items.has(path)) throw conflict(path, 'the path is given twice');
    if (input.lowerType(path) === 'dir' && item.type !== 'dir') throw conflict(path, 'the image has a directory there');
    items.set(path, item);
  };
  const base = { uid: 0, gid: 0, mtime: input.epoch };
  for (const f of input.files) {
    const path = normalizeImagePath(f.path, 'added file');
    add(path, { ...base, name: path, type: 'file', mode: f.mode, size: f.content.length, content: () => [f.content] });
  }
  for (const enc of input.encrypted) {
    const path = normalizeImagePath(enc.path, 'encrypted file');
    const orig = input.sourceRootfs.get(path);
    if (orig?.type !== 'file') throw conflict(path, 'an encrypted path must be a regular file of the source image');
    const item: TarItem = { name: path, type: 'file', mode: orig.mode, uid: orig.uid, gid: orig.gid, mtime: input.epoch, size: enc.size };
    item.content = () => readCiphertext(enc, path);
    if (orig.xattrs && Object.keys(orig.xattrs).length > 0) item.xattrs = orig.xattrs;
    add(path, item);
  }
  for (const d of input.createDirs) {
    const path = normalizeImagePath(d, 'directory to create');
    const lower = input.lowerType(path);
    if (lower === 'dir' || items.get(path)?.type === 'dir') continue;
    if (lower !== undefined) throw conflict(path, `the image has a ${lower} there, not a directory`);
    add(path, { ...base, name: `${path}/`, type: 'dir', mode: 0o755 });
  }
  for (const path of [...items.keys()]) {
    for (const parent of parentsOf(path)) {
      const existing = items.get(parent);
      if (existing !== undefined) {
        if (existing.type !== 'dir') throw conflict(path, `/${parent} is a file added by cconv`);
        continue;
      }
      const lower = input.lowerType(parent);
      if (lower === 'dir') continue;
      if (lower !== undefined) throw conflict(path, `/${parent} is a ${lower} in the image, not a directory`);
      items.set(parent, { ...base, name: `${parent}/`, type: 'dir', mode: 0o755 });
    }
  }
  return [...items.entries()].sort(([a], [b]) => comparePaths(a, b)).map(([, item]) => item);
}

/** Builds the cconv layer into `input.file` (E_CONFIG on conflicts, E_IO/E_SIZE_MISMATCH on ciphertext files). */
export async function buildCconvLayer(input: CconvLayerInput): Promise<SpooledLayer> {
  return spoolLayer(tarStream(cconvLayerItems(input)), input.file, input.onBytes);
}
