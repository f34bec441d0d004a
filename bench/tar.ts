/**
 * A minimal deterministic ustar writer for the generated layers: directories and regular files,
 * fixed mtime, root owner. Streams: yields header and content chunks, never a whole file.
 */
import { fileContent } from './content.ts';
import type { PlannedLayer } from './tree.ts';

/** The fixed mtime of every entry (2024-01-01T00:00:00Z). */
export const BENCH_MTIME = 1_704_067_200;

function octal(b: Buffer, value: number, offset: number, width: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'latin1');
}

/**
 * A 512-byte ustar header; names over 100 bytes go to the prefix field (split at a '/'). `mode`
 * defaults to 0755 for directories and 0644 for files.
 */
export function tarHeader(path: string, type: 'file' | 'dir', size: number, mode = type === 'dir' ? 0o755 : 0o644): Buffer {
  const b = Buffer.alloc(512);
  let name = type === 'dir' ? `${path}/` : path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`path too long for ustar: ${path}`);
  }
  b.write(name, 0, 100, 'utf8');
  octal(b, mode, 100, 8);
  octal(b, 0, 108, 8);
  octal(b, 0, 116, 8);
  octal(b, type === 'dir' ? 0 : size, 124, 12);
  octal(b, BENCH_MTIME, 136, 12);
  b.write(type === 'dir' ? '5' : '0', 156, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  b.write('root', 265, 'latin1');
  b.write('root', 297, 'latin1');
  b.write(prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** Streams the tar of `layer`: directories first, then files, then the two zero blocks. */
export function* layerTar(layer: PlannedLayer): Generator<Buffer> {
  for (const d of layer.dirs) yield tarHeader(d, 'dir', 0);
  for (const f of layer.files) {
    yield tarHeader(f.path, 'file', f.size);
    yield* fileContent(f.seed, f.size, f.kind);
    const pad = (512 - (f.size % 512)) % 512;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(1024);
}
