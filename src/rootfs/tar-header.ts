/**
 * Pure decoding of tar header blocks and PAX records (POSIX ustar/pax, GNU and v7 headers).
 * Follows Go's archive/tar (what containerd and Docker use to apply layers) where formats leave
 * room: header-only types carry no data whatever their size field says, the ustar prefix is read
 * only for ustar magic, numbers may be octal (space/NUL padded) or GNU base-256.
 */

/** Size of a tar block. */
export const BLOCK = 512;

/** One decoded header block, before PAX/GNU long-name records are applied. */
export interface RawHeader {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** The typeflag character (may be '\0', the old regular-file flag). */
  typeflag: string;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
  /** GNU old sparse ('S') only: the map entries in this block, the real size, whether extension blocks follow. */
  gnuSparse?: { map: Array<[number, number]>; realSize: number; extended: boolean };
}

/** A header field could not be decoded; the caller reports it as E_LAYER_CORRUPT. */
export class TarFormatError extends Error {}

const USTAR = Buffer.from('ustar\u000000', 'latin1');

/** Bytes of a NUL-terminated field. */
function field(block: Buffer, off: number, len: number): Buffer {
  const end = block.indexOf(0, off);
  return block.subarray(off, end === -1 || end > off + len ? off + len : end);
}

/** Decodes a numeric field: GNU base-256 (high bit set) or octal with space/NUL padding. */
export function parseNumber(block: Buffer, off: number, len: number): number {
  const b = block.subarray(off, off + len);
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    if (b[0] === 0xff) throw new TarFormatError('negative base-256 number');
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new TarFormatError('number too large');
    return v;
  }
  const s = b.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`bad octal number ${JSON.stringify(s)}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarFormatError('number too large');
  return v;
}

/** True for an all-zero block (end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** Reads the sparse map entries of an old GNU header (4 at offset 386) or extension block (21 at 0). */
export function parseGnuSparseEntries(block: Buffer, off: number, count: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const o = off + i * 24;
    if (block[o] === 0) break;
    out.push([parseNumber(block, o, 12), parseNumber(block, o + 12, 12)]);
  }
  return out;
}

/** Decodes one 512-byte header block (not all-zero). Throws TarFormatError on a bad checksum or field. */
export function decodeHeader(block: Buffer): RawHeader {
  if (!checksumOk(block)) throw new TarFormatError('header checksum mismatch');
  const typeflag = String.fromCharCode(block[156]!);
  let name = field(block, 0, 100);
  if (block.subarray(257, 265).equals(USTAR) && block[345] !== 0) {
    name = Buffer.concat([field(block, 345, 155), Buffer.from('/'), name]);
  }
  const h: RawHeader = {
    name,
    mode: parseNumber(block, 100, 8),
    uid: parseNumber(block, 108, 8),
    gid: parseNumber(block, 116, 8),
    size: parseNumber(block, 124, 12),
    mtime: parseNumber(block, 136, 12),
    typeflag,
    linkname: field(block, 157, 100),
    devmajor: parseNumber(block, 329, 8),
    devminor: parseNumber(block, 337, 8),
  };
  if (typeflag === 'S') {
    h.gnuSparse = {
      map: parseGnuSparseEntries(block, 386, 4),
      extended: block[482] !== 0,
      realSize: parseNumber(block, 483, 12),
    };
  }
  return h;
}

/** PAX records whose values are names: a NUL in them is refused. */
const NUL_FREE_RECORDS = new Set(['path', 'linkpath', 'uname', 'gname']);

/**
 * Parses PAX extended-header records (`LEN KEY=VALUE\n`), in order, duplicates kept (GNU sparse
 * 0.0 repeats keys). Values stay raw bytes: xattr values are binary. A NUL in a key, or in the
 * value of path, linkpath, uname or gname, is a TarFormatError.
 */
export function parsePaxRecords(buf: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // NUL padding after the last record
    const sp = buf.indexOf(0x20, pos);
    if (sp === -1 || sp - pos > 20) throw new TarFormatError('bad PAX record length');
    const len = Number(buf.toString('latin1', pos, sp));
    if (!Number.isSafeInteger(len) || len <= sp - pos + 1 || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw new TarFormatError('bad PAX record');
    }
    const rec = buf.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('bad PAX record key');
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    // As Go's archive/tar (validPAXRecord): a NUL would end the name in C and cut it short.
    if (key.includes('\0')) throw new TarFormatError('NUL in a PAX record key');
    if (NUL_FREE_RECORDS.has(key) && value.includes(0)) throw new TarFormatError(`NUL in the PAX ${key} record`);
    out.push([key, value]);
    pos += len;
  }
  return out;
}
