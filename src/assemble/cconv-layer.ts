/**
 * The cconv layer (top): the files cconv adds (`.manifest.sgx`, `.sig`, trusted argv; root-owned,
 * modes as given), the encrypted files' ciphertexts at their original paths (original owner, mode
 * and xattrs), the directories to create (0755 root) and every parent directory the layers below
 * lack (0755 root). Parents the image already has as directories are not written, so their
 * owners and modes stay the app's. All mtimes are the epoch.
 */
import { open, type FileHandle } from 'node:fs/promises';
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

/** Bytes read from a ciphertext file at a time: consecutive ranges are served from one read. */
const READ_AHEAD = 4 << 20;

/**
 * Reads ciphertext ranges with one open handle per file and a read-ahead window: encryptSelected
 * lays its spool out in this layer's order, so 20,000 small files take a few hundred reads, not
 * an open, reads and a close each (ranges out of file order cost one read each, no read-ahead).
 * Chunks handed out are never reused (downstream may hold them).
 */
class CiphertextReader {
  private readonly handles = new Map<string, Promise<FileHandle>>();
  private window: { file: string; start: number; bytes: Buffer } | undefined;

  /** The `size` bytes at `offset` of `enc.ciphertextFile`; E_IO naming `/path` if they cannot be read. */
  async *range(enc: EncryptedFile, path: string): AsyncGenerator<Buffer> {
    const file = enc.ciphertextFile;
    let at = enc.offset ?? 0;
    const end = at + enc.size;
    try {
      while (at < end) {
        const w = this.window;
        if (w === undefined || w.file !== file || at < w.start || at >= w.start + w.bytes.length) {
          // Read ahead when the ranges come in file order; otherwise read this range only.
          const sequential = w !== undefined && w.file === file && at === w.start + w.bytes.length;
          this.window = await this.read(file, at, sequential ? READ_AHEAD : Math.min(READ_AHEAD, end - at));
          if (this.window.bytes.length === 0) {
            throw new CconvError('E_SIZE_MISMATCH', `the ciphertext of /${path} (${file}) is ${end - at} bytes short of its ${enc.size}`);
          }
          continue;
        }
        const chunk = w.bytes.subarray(at - w.start, Math.min(end, w.start + w.bytes.length) - w.start);
        at += chunk.length;
        yield chunk;
      }
    } catch (err) {
      throw wrapIoError(err, `reading the ciphertext of /${path} (${file})`);
    }
  }

  /** Closes the files opened. */
  async close(): Promise<void> {
    const opened = await Promise.allSettled(this.handles.values());
    this.handles.clear();
    for (const h of opened) if (h.status === 'fulfilled') await h.value.close().catch(() => {});
  }

  private async read(file: string, start: number, length: number): Promise<{ file: string; start: number; bytes: Buffer }> {
    let handle = this.handles.get(file);
    if (handle === undefined) this.handles.set(file, (handle = open(file, 'r')));
    const bytes = Buffer.allocUnsafe(length);
    const { bytesRead } = await (await handle).read(bytes, 0, length, start);
    return { file, start, bytes: bytesRead === length ? bytes : bytes.subarray(0, bytesRead) };
  }
}

/** The layer's members, sorted depth-first by name. E_CONFIG on a duplicate or conflicting path. */
export function cconvLayerItems(input: Omit<CconvLayerInput, 'file' | 'onBytes'>, ciphertexts: CiphertextReader): TarItem[] {
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
    item.content = () => ciphertexts.range(enc, path);
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

/**
 * Builds the cconv layer into `input.file` (E_CONFIG on conflicts, E_IO/E_SIZE_MISMATCH on
 * ciphertext files). With ciphertexts it is gzip of stored blocks: they would not compress.
 */
export async function buildCconvLayer(input: CconvLayerInput): Promise<SpooledLayer> {
  const ciphertexts = new CiphertextReader();
  try {
    return await spoolLayer(tarStream(cconvLayerItems(input, ciphertexts)), input.file, input.onBytes, input.encrypted.length > 0 ? 'stored' : 'deflate');
  } finally {
    await ciphertexts.close();
  }
}
