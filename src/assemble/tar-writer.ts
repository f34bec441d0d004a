/**
 * A deterministic, streaming tar writer for the layers cconv builds. Each member is a ustar header
 * (magic "ustar\0", version "00", empty uname/gname, numeric owners), preceded by a PAX 'x' header
 * only when ustar cannot say it: a name or link target over the ustar limits or not ASCII, a
 * uid/gid/size/mtime too large for its octal field, or extended attributes (SCHILY.xattr.*).
 * PAX records are sorted by key; no atime/ctime is ever written. The archive ends with two zero
 * blocks and no further record padding (as Go's archive/tar). Content is streamed from each
 * member's source and its length checked against the header's size.
 */
import { Readable } from 'node:stream';
import { CconvError } from '../errors.ts';

const BLOCK = 512;
const ZERO = Buffer.alloc(BLOCK);
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** Member kinds the writer emits ('hardlink' is typeflag '1', linking to an earlier member). */
export type TarItemType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

const TYPEFLAG: Record<TarItemType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

/** One member. `name` is written as given (callers normalise: relative, directories with a trailing '/'). */
export interface TarItem {
  name: string;
  type: TarItemType;
  /** Permission and special bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (integer, >= 0). */
  mtime: number;
  /** Content length for files; ignored (0) for other types. */
  size?: number;
  /** Symlink target, or hardlink target member name. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes; values are byte strings in latin1 (as the rootfs reader gives them). */
  xattrs?: Readonly<Record<string, string>>;
  /** Files only: opens the content, which must be exactly `size` bytes. Called when the member is written. */
  content?: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>;
}

/** PAX records `"<len> key=value\n"`, len counting the whole record in bytes; sorted by key. */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, Buffer]>): Buffer {
  const sorted = [...records].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Buffer.concat(
    sorted.map(([key, value]) => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return Buffer.concat([Buffer.from(String(len), 'ascii'), rest]);
    }),
  );
}

function isAscii(b: Buffer): boolean {
  for (const x of b) if (x === 0 || x > 0x7e) return false;
  return true;
}

/** Splits a name into ustar prefix (<= 155 bytes) and name (<= 100 bytes) at a '/', or undefined. */
function splitUstarName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let i = Math.min(name.length - 1, 155); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return undefined;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}

interface HeaderFields {
  name: Buffer;
  prefix: Buffer;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}

function header(f: HeaderFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  f.name.copy(b, 0, 0, 100);
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.write(f.typeflag, 156, 1, 'ascii');
  f.linkname.copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 8, 'ascii');
  octal(b, 329, 8, f.devmajor);
  octal(b, 337, 8, f.devminor);
  f.prefix.copy(b, 345, 0, 155);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return b;
}

function checkNumber(value: number, what: string, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new CconvError('E_INTERNAL', `tar member ${JSON.stringify(name)}: ${what} ${value} is not a non-negative integer`);
}

/**
 * The header blocks of one member: a PAX header and its records when needed, then the ustar
 * header. Pure; used by `tarStream` and by tests.
 */
export function encodeHeaders(item: TarItem): Buffer {
  const size = item.type === 'file' ? (item.size ?? 0) : 0;
  for (const [what, v] of [['mode', item.mode], ['uid', item.uid], ['gid', item.gid], ['mtime', item.mtime], ['size', size]] as const) {
    checkNumber(v, what, item.name);
  }
  const name = Buffer.from(item.name, 'utf8');
  const link = Buffer.from(item.linkname ?? '', 'utf8');
  const pax: Array<[string, Buffer]> = [];
  let split = isAscii(name) ? splitUstarName(name) : undefined;
  if (split === undefined) {
    pax.push(['path', name]);
    split = { prefix: Buffer.alloc(0), name: name.subarray(0, 100) };
  }
  let headerLink = link;
  if (link.length > 100 || (link.length > 0 && !isAscii(link))) {
    pax.push(['linkpath', link]);
    headerLink = link.subarray(0, 100);
  }
  const num = (key: string, v: number, max: number): number => {
    if (v <= max) return v;
    pax.push([key, Buffer.from(String(v), 'ascii')]);
    return 0;
  };
  const uid = num('uid', item.uid, MAX_OCTAL_7);
  const gid = num('gid', item.gid, MAX_OCTAL_7);
  const hsize = num('size', size, MAX_OCTAL_11);
  const mtime = num('mtime', item.mtime, MAX_OCTAL_11);
  for (const [k, v] of Object.entries(item.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, Buffer.from(v, 'latin1')]);
  const out: Buffer[] = [];
  if (pax.length > 0) {
    const body = encodePaxRecords(pax);
    const base = item.name.replace(/\/+$/, '').split('/').pop() || 'root';
    const paxName = Buffer.from(`PaxHeaders.0/${base}`, 'utf8').subarray(0, 100);
    out.push(header({ name: paxName, prefix: Buffer.alloc(0), typeflag: 'x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: Math.min(item.mtime, MAX_OCTAL_11), linkname: Buffer.alloc(0), devmajor: 0, devminor: 0 }));
    out.push(body, ZERO.subarray(0, padding(body.length)));
  }
  out.push(
    header({
      name: split.name,
      prefix: split.prefix,
      typeflag: TYPEFLAG[item.type],
      mode: item.mode & 0o7777,
      uid,
      gid,
      size: hsize,
      mtime,
      linkname: headerLink,
      devmajor: item.devmajor ?? 0,
      devminor: item.devminor ?? 0,
    }),
  );
  return Buffer.concat(out);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

async function* generate(items: AsyncIterable<TarItem> | Iterable<TarItem>): AsyncGenerator<Buffer> {
  for await (const item of items) {
    yield encodeHeaders(item);
    if (item.type !== 'file') continue;
    const size = item.size ?? 0;
    let got = 0;
    if (item.content) {
      for await (const chunk of await item.content()) {
        got += chunk.length;
        if (got > size) break;
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
    }
    if (got !== size) {
      throw new CconvError('E_SIZE_MISMATCH', `${JSON.stringify(item.name)}: content is ${got > size ? 'longer' : `${got} bytes, shorter`} than its ${size}-byte size`);
    }
    if (padding(size) > 0) yield ZERO.subarray(0, padding(size));
  }
  yield Buffer.alloc(2 * BLOCK);
}

/**
 * The tar archive of `items`, in the order given, as a stream (backpressure honoured: content is
 * pulled only as fast as the consumer reads). A member whose content length differs from its size
 * fails the stream with E_SIZE_MISMATCH; a content source's error fails it unchanged. Destroying
 * the stream stops the iteration (and the content being read).
 */
export function tarStream(items: AsyncIterable<TarItem> | Iterable<TarItem>): Readable {
  return Readable.from(generate(items), { objectMode: false });
}
