/**
 * Spools a tar archive's members to a temp directory in one pass, hashing each (sha256) and
 * keeping its first bytes, because a `docker save` tar lists manifest.json last. Member names are
 * never used as file names (members are numbered), so hostile names cannot escape the directory.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { CconvError, isCconvError, wrapIoError } from '../errors.ts';
import { BULK_WRITE_BUFFER } from '../files.ts';
import type { Digest } from '../image/types.ts';
import { READ_CHUNK, openRegularFile } from './fs-blob.ts';

/** One regular-file member as spooled. `head` holds its first (up to 8) bytes. */
export interface SpooledMember {
  name: string;
  path: string;
  size: number;
  digest: Digest;
  head: Buffer;
}

/** The spooled archive: members by normalised name and by sha256, with symlinks/hardlinks resolved on lookup. */
export interface Spool {
  members: Map<string, SpooledMember>;
  byDigest: Map<string, SpooledMember>;
  /** Member name -> normalised target name, for symlinks and hardlinks. */
  links: Map<string, string>;
}

/** Normalises a member name (no leading './' or '/', no trailing '/'); undefined when it climbs out with '..'. */
export function normalizeMemberName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return n === '' || n.startsWith('../') ? undefined : n;
}

/** Finds a member by name, following up to 16 links. */
export function lookupMember(spool: Spool, name: string): SpooledMember | undefined {
  let current: string | undefined = normalizeMemberName(name);
  for (let hops = 0; current !== undefined && hops <= 16; hops++) {
    const member = spool.members.get(current);
    if (member !== undefined) return member;
    current = spool.links.get(current);
  }
  return undefined;
}

class HashTap extends Transform {
  readonly hash = createHash('sha256');
  head = Buffer.alloc(0);
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.head.length < 8) this.head = Buffer.concat([this.head, chunk.subarray(0, 8 - this.head.length)]);
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

async function isGzip(handle: FileHandle): Promise<boolean> {
  const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
  return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

/** Options of `spoolTar`. */
export interface SpoolOptions {
  signal?: AbortSignal;
  /** Called with the number of archive bytes read, per chunk. */
  onBytes?: (n: number) => void;
}

/**
 * Reads `file` (a tar, or a gzip-compressed tar) once and spools every regular member into `dir`
 * (which the caller creates and removes). E_IMAGE_NOT_FOUND when the file is missing or not a
 * regular file (a FIFO is refused, not waited on), E_LAYER_CORRUPT when it is not a readable tar,
 * E_IO for other fs errors.
 */
export async function spoolTar(file: string, dir: string, options: SpoolOptions = {}): Promise<Spool> {
  let handle: FileHandle;
  try {
    ({ handle } = await openRegularFile(file, (kind) => new CconvError('E_IMAGE_NOT_FOUND', `${file} is ${kind}, not a docker save archive`)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CconvError('E_IMAGE_NOT_FOUND', `archive ${file} does not exist`, { cause: err });
    throw wrapIoError(err, `opening ${file}`);
  }
  let gzip: boolean;
  try {
    gzip = await isGzip(handle);
  } catch (err) {
    await handle.close();
    throw wrapIoError(err, `reading ${file}`);
  }
  const spool: Spool = { members: new Map(), byDigest: new Map(), links: new Map() };
  const extract = tar.extract();
  // The stream owns the handle from here: it closes it at end, on error or when destroyed.
  const source = handle.createReadStream({ highWaterMark: READ_CHUNK, start: 0 });
  const onBytes = options.onBytes;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  const stages = gzip ? [source, meter, createGunzip(), extract] : [source, meter, extract];
  const reading = (pipeline as (...s: unknown[]) => Promise<void>)(...stages, options.signal ? { signal: options.signal } : {});
  reading.catch(() => {}); // awaited below; this only keeps an early rejection from being unhandled
  let counter = 0;
  try {
    for await (const entry of extract) {
      const name = normalizeMemberName(entry.header.name);
      const type = entry.header.type;
      if (name !== undefined && (type === 'file' || type === 'contiguous-file')) {
        const tap = new HashTap();
        const path = join(dir, String(++counter).padStart(6, '0'));
        await pipeline(entry, tap, createWriteStream(path, { flags: 'wx', highWaterMark: BULK_WRITE_BUFFER }));
        const member: SpooledMember = { name, path, size: tap.size, digest: `sha256:${tap.hash.digest('hex')}` as Digest, head: tap.head };
        spool.members.set(name, member);
        if (!spool.byDigest.has(member.digest)) spool.byDigest.set(member.digest, member);
        continue;
      }
      if (name !== undefined && (type === 'symlink' || type === 'link') && entry.header.linkname) {
        const target = type === 'symlink' ? posix.join(posix.dirname(name), entry.header.linkname) : entry.header.linkname;
        const normalized = normalizeMemberName(target);
        if (normalized !== undefined) spool.links.set(name, normalized);
      }
      entry.resume();
    }
    await reading;
  } catch (err) {
    source.destroy();
    extract.destroy();
    if (isCconvError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ABORT_ERR') throw new CconvError('E_USAGE', `reading ${file} was cancelled`, { cause: err });
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_STREAM_PREMATURE_CLOSE') throw wrapIoError(err, `spooling ${file}`);
    throw new CconvError('E_LAYER_CORRUPT', `${file} is not a readable tar archive: ${(err as Error).message}`, { cause: err });
  }
  return spool;
}
