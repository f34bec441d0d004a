/**
 * Test helpers for the rootfs module: build layer tars in memory with tar-stream (plus raw header
 * blocks for what tar-stream cannot write: GNU long names, hostile headers), and fake `Layer`s that
 * stream them back in small chunks.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import type { Layer } from '../../src/image/image.ts';
import type { Digest } from '../../src/image/types.ts';

/** One member, as tar-stream's pack writes it. `pax` records force a PAX header. */
export interface TarSpec {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo' | 'contiguous-file';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  content?: Buffer | string;
  pax?: Record<string, string>;
  devmajor?: number;
  devminor?: number;
}

/** A member given as ready-made bytes (header blocks and padded data). */
export interface RawPart {
  raw: Buffer;
}

/** Encodes one member with tar-stream's pack, without the end-of-archive blocks. */
async function packOne(spec: TarSpec): Promise<Buffer> {
  const pack = tarStream.pack();
  const content = typeof spec.content === 'string' ? Buffer.from(spec.content) : spec.content ?? Buffer.alloc(0);
  const type = spec.type ?? 'file';
  const header = {
    name: spec.name,
    type,
    mode: spec.mode ?? (type === 'directory' ? 0o755 : 0o644),
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    mtime: new Date((spec.mtime ?? 1_700_000_000) * 1000),
    size: type === 'file' || type === 'contiguous-file' ? content.length : 0,
    ...(spec.linkname !== undefined ? { linkname: spec.linkname } : {}),
    ...(spec.devmajor !== undefined ? { devmajor: spec.devmajor, devminor: spec.devminor ?? 0 } : {}),
    ...(spec.pax ? { pax: spec.pax } : {}),
  };
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  if (type === 'file' || type === 'contiguous-file') pack.entry(header, content);
  else pack.entry(header);
  pack.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024);
}

/** Builds a tar: members in order, then two zero blocks (unless `end` is false). */
export async function makeTar(parts: Array<TarSpec | RawPart>, options: { end?: boolean } = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const p of parts) out.push('raw' in p ? p.raw : await packOne(p));
  if (options.end !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** Fields of a raw header block; `typeflag` is the one-character flag. */
export interface RawHeaderFields {
  name: string;
  typeflag: string;
  size?: number;
  mode?: number;
  linkname?: string;
  gnu?: boolean;
}

/** Encodes one 512-byte header block (ustar, or GNU magic with `gnu`), checksum included. */
export function rawHeader(f: RawHeaderFields): Buffer {
  const b = Buffer.alloc(512);
  b.write(f.name, 0, 100, 'utf8');
  b.write(`${(f.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${(f.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('14524770400\0', 136, 'latin1');
  b.write(f.typeflag, 156, 'latin1');
  if (f.linkname) b.write(f.linkname, 157, 100, 'utf8');
  b.write(f.gnu ? 'ustar  \0' : 'ustar\u000000', 257, 'latin1');
  b.write('        ', 148, 'latin1');
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** Pads data to a whole number of blocks. */
export function padBlocks(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A GNU long-name ('L') or long-link ('K') record followed by its member header. */
export function gnuLong(kind: 'L' | 'K', value: string, member: RawHeaderFields, content?: Buffer): RawPart {
  const v = Buffer.from(`${value}\0`);
  const parts = [rawHeader({ name: '././@LongLink', typeflag: kind, size: v.length, gnu: true }), padBlocks(v), rawHeader({ ...member, gnu: true })];
  if (content) parts.push(padBlocks(content));
  return { raw: Buffer.concat(parts) };
}

/** A fake layer serving `tar` in `chunk`-byte pieces; `failAt` makes the stream error after that many bytes. */
export interface FakeLayer extends Layer {
  opens: number;
  /** The stream the last `openUncompressed()` returned. */
  lastStream?: Readable;
}

/** Options of `fakeLayer`. */
export interface FakeLayerOptions {
  chunk?: number;
  failAt?: number;
  /** Fail only from this open on (1 = first open). */
  failFromOpen?: number;
  error?: Error;
}

/** Builds a fake `Layer` whose `openUncompressed()` streams `tar`. */
export function fakeLayer(index: number, tar: Buffer, options: FakeLayerOptions = {}): FakeLayer {
  const digest = `sha256:${createHash('sha256').update(tar).digest('hex')}` as Digest;
  const layer: FakeLayer = {
    index,
    opens: 0,
    descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: tar.length },
    diffId: digest,
    compression: 'none',
    async openCompressed() {
      return layer.openUncompressed();
    },
    async openStored() {
      return layer.openUncompressed();
    },
    async openUncompressed() {
      layer.opens++;
      const chunk = options.chunk ?? 700;
      const failing = options.failAt !== undefined && layer.opens >= (options.failFromOpen ?? 1);
      const end = failing ? options.failAt! : tar.length;
      async function* gen() {
        for (let i = 0; i < end; i += chunk) yield tar.subarray(i, Math.min(end, i + chunk));
        if (failing) throw options.error ?? new Error('boom');
      }
      layer.lastStream = Readable.from(gen(), { objectMode: false });
      return layer.lastStream;
    },
  };
  return layer;
}

/** Fake layers 0..n-1 over the given tars, as `flatten` takes them. */
export function fakeImage(tars: Buffer[], options: FakeLayerOptions = {}): { layers: FakeLayer[] } {
  return { layers: tars.map((t, i) => fakeLayer(i, t, options)) };
}

/** Lowercase hex sha256. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
