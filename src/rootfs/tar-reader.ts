/**
 * Streaming tar reader for layer tars: yields one entry at a time with its (sparse-expanded)
 * content as an async iterable, applying PAX records (path, linkpath, size, uid, gid, mtime,
 * SCHILY.xattr.*, GNU.sparse.*) and GNU long names/links. Global PAX headers are ignored, as Go's
 * archive/tar consumers (containerd, Docker) do. We parse ourselves rather than with tar-stream
 * because tar-stream 3.2.2 hides the raw header (old GNU sparse maps live there, and their
 * extension blocks would be misread as file data) and drops PAX uid/gid/mtime.
 */
import { ByteReader } from './byte-reader.ts';
import { expandSparse, parseSparseList, readSparse1Map, validateSparseMap, type SparseMap } from './sparse.ts';
import {
  BLOCK,
  TarFormatError,
  decodeHeader,
  isZeroBlock,
  parseGnuSparseEntries,
  parsePaxRecords,
  type RawHeader,
} from './tar-header.ts';

/** Kind of a tar member as the flattener sees it. 'unsupported' carries `typeflag`. */
export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'unsupported';

/** One tar member. `body()` may be read at most once, and only before the next entry is requested. */
export interface TarEntry {
  /** Ordinal among the members this reader yields (0-based); stable for the same bytes. */
  readonly ordinal: number;
  /** Name as stored (not normalised); `nameValid` is false when it was not valid UTF-8. */
  readonly name: string;
  readonly nameValid: boolean;
  readonly type: TarEntryType;
  readonly typeflag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  /** Content size; the expanded size for sparse files; 0 for header-only types. */
  readonly size: number;
  readonly linkname: string;
  /** False when the link target was not valid UTF-8 (then `linkname` is its latin1 reading). */
  readonly linkValid: boolean;
  readonly devmajor: number;
  readonly devminor: number;
  readonly xattrs: Record<string, string> | undefined;
  readonly sparse: boolean;
  body(): AsyncIterable<Buffer>;
}

const MAX_META = 1024 * 1024;
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);
const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', S: 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block',
  '5': 'dir', D: 'dir', '6': 'fifo',
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(b: Buffer): { s: string; ok: boolean } {
  try {
    return { s: utf8.decode(b), ok: !b.includes(0) };
  } catch {
    return { s: b.toString('latin1'), ok: false };
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function decimal(v: Buffer, what: string): number {
  const s = v.toString('latin1');
  if (!/^-?[0-9]{1,16}(\.[0-9]*)?$/.test(s)) throw new TarFormatError(`bad PAX ${what}`);
  return Math.floor(Number(s));
}

/**
 * Reads a tar stream. `onBytes` sees every upstream chunk length (progress). Reads to the end of
 * the stream, past the end-of-archive blocks, so upstream digest checks run. Format errors throw
 * TarFormatError; upstream stream errors propagate unchanged. Stopping early (break/throw) returns
 * the upstream iterator, which destroys a Readable source.
 */
export async function* readTar(src: AsyncIterable<unknown>, onBytes?: (n: number) => void): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src, onBytes);
  let ordinal = 0;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let pax: Array<[string, Buffer]> | undefined;
  try {
    for (;;) {
      const block = await r.read(BLOCK);
      // An extended header (PAX, GNU long name or link) with no member after it is a cut tar.
      const dangling = longName !== undefined || longLink !== undefined || pax !== undefined;
      if (block.length === 0 && dangling) throw new TarFormatError('unexpected end of tar stream after an extended header');
      if (block.length === 0) break; // EOF on a block boundary: accepted, as Go does
      if (block.length < BLOCK) throw new TarFormatError('unexpected end of tar stream');
      if (isZeroBlock(block)) {
        if (dangling) throw new TarFormatError('extended header without a member before the end of the archive');
        // End of archive is two zero blocks (or one at end of stream); like Go, a header after a
        // single zero block is an error rather than silently hidden entries.
        const next = await r.read(BLOCK);
        if (next.length === BLOCK && !isZeroBlock(next)) throw new TarFormatError('header after a zero block');
        await r.drain(); // the rest is padding
        break;
      }
      const h = decodeHeader(block);
      if (h.typeflag === 'L' || h.typeflag === 'K' || h.typeflag === 'x' || h.typeflag === 'g') {
        if (h.size > MAX_META) throw new TarFormatError('extended header too large');
        const data = await r.read(h.size);
        if (data.length < h.size) throw new TarFormatError('unexpected end of tar stream');
        await r.skip(padding(h.size));
        if (h.typeflag === 'L') longName = stripNul(data);
        else if (h.typeflag === 'K') longLink = stripNul(data);
        else if (h.typeflag === 'x') pax = parsePaxRecords(data);
        continue; // 'g': ignored
      }
      if (h.typeflag === 'V') {
        await r.skip(h.size + padding(h.size));
        continue;
      }
      const entry = await buildEntry(r, h, ordinal++, longName, longLink, pax);
      longName = longLink = pax = undefined;
      yield entry.entry;
      entry.retire();
      // Skip whatever the consumer left unread, then the block padding.
      await r.skip(entry.dataEnd - r.position);
      await r.skip(padding(entry.storedSize));
    }
  } finally {
    await r.close();
  }
}

function stripNul(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i === -1 ? b : b.subarray(0, i);
}

async function buildEntry(
  r: ByteReader,
  h: RawHeader,
  ordinal: number,
  longName: Buffer | undefined,
  longLink: Buffer | undefined,
  pax: Array<[string, Buffer]> | undefined,
): Promise<{ entry: TarEntry; dataEnd: number; storedSize: number; retire: () => void }> {
  let nameBuf = longName ?? h.name;
  let linkBuf = longLink ?? h.linkname;
  let { uid, gid, mtime, size } = h;
  let xattrs: Record<string, string> | undefined;
  let sparse: { map?: SparseMap; realSize: number; v1: boolean } | undefined;
  if (h.gnuSparse) {
    const map = h.gnuSparse.map;
    let ext = h.gnuSparse.extended;
    while (ext) {
      const b = await r.read(BLOCK);
      if (b.length < BLOCK) throw new TarFormatError('unexpected end of tar stream');
      map.push(...parseGnuSparseEntries(b, 0, 21));
      if (map.length > 1_000_000) throw new TarFormatError('too many sparse regions');
      ext = b[504] !== 0;
    }
    sparse = { map, realSize: h.gnuSparse.realSize, v1: false };
  }
  if (pax) {
    const rec = new Map<string, Buffer>();
    const offsets: number[] = [];
    const lengths: number[] = [];
    for (const [k, v] of pax) {
      rec.set(k, v);
      if (k === 'GNU.sparse.offset') offsets.push(decimal(v, k));
      if (k === 'GNU.sparse.numbytes') lengths.push(decimal(v, k));
      if (k.startsWith('SCHILY.xattr.')) (xattrs ??= {})[k.slice(13)] = v.toString('latin1');
    }
    const get = (k: string) => rec.get(k);
    nameBuf = get('GNU.sparse.name') ?? get('path') ?? nameBuf;
    linkBuf = get('linkpath') ?? linkBuf;
    if (get('uid')) uid = decimal(get('uid')!, 'uid');
    if (get('gid')) gid = decimal(get('gid')!, 'gid');
    if (get('mtime')) mtime = decimal(get('mtime')!, 'mtime');
    if (get('size')) size = decimal(get('size')!, 'size');
    const real = get('GNU.sparse.realsize') ?? get('GNU.sparse.size') ?? Buffer.alloc(0); // missing: TarFormatError below
    if (get('GNU.sparse.major')?.toString() === '1' && get('GNU.sparse.minor')?.toString() === '0') {
      sparse = { realSize: decimal(real, 'sparse size'), v1: true };
    } else if (get('GNU.sparse.map')) {
      sparse = { map: parseSparseList(get('GNU.sparse.map')!.toString('latin1')), realSize: decimal(real, 'sparse size'), v1: false };
    } else if (offsets.length > 0 || lengths.length > 0) {
      if (offsets.length !== lengths.length) throw new TarFormatError('bad GNU sparse 0.0 map');
      sparse = { map: offsets.map((o, i) => [o, lengths[i]!]), realSize: decimal(real, 'sparse size'), v1: false };
    }
  }
  const type = TYPES[h.typeflag] ?? 'unsupported';
  const name = decodeName(nameBuf);
  const link = decodeName(linkBuf);
  let finalType = type;
  if (h.typeflag === '\0' && name.s.endsWith('/')) finalType = 'dir';
  const storedSize = HEADER_ONLY.has(h.typeflag) || (finalType === 'dir' && h.typeflag !== 'D') ? 0 : size;
  const dataEnd = r.position + storedSize;
  let map: SparseMap | undefined;
  let contentSize = finalType === 'file' ? size : 0;
  if (sparse && finalType === 'file') {
    map = sparse.v1 ? (await readSparse1Map(r, storedSize)).map : sparse.map!;
    validateSparseMap(map, sparse.realSize, dataEnd - r.position);
    contentSize = sparse.realSize;
  }
  let state: 'fresh' | 'read' | 'stale' = 'fresh';
  const entry: TarEntry = {
    ordinal,
    name: name.s,
    nameValid: name.ok,
    type: finalType,
    typeflag: h.typeflag,
    mode: h.mode & 0o7777,
    uid,
    gid,
    mtime,
    size: contentSize,
    linkname: link.s,
    linkValid: link.ok,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs,
    sparse: map !== undefined,
    body() {
      if (state !== 'fresh') throw new Error('tar entry body read twice or after the next entry');
      state = 'read';
      return map ? expandSparse(r, map, contentSize) : r.take(contentSize);
    },
  };
  return { entry, dataEnd, storedSize, retire: () => void (state = 'stale') };
}
