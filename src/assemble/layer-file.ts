/**
 * Spools a built layer to a temp file as gzip, hashing the uncompressed tar (diff_id) and the
 * compressed bytes (blob digest) in the same pass, so the descriptor is known before any upload.
 * Gzip is Node's zlib at a fixed level; Node writes no file name and mtime 0 in the gzip header,
 * so the same tar gives the same blob with the same zlib. A layer of ciphertexts is stored
 * uncompressed inside its gzip framing instead (stored-gzip.ts: they do not compress).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { wrapIoError } from '../errors.ts';
import { BULK_WRITE_BUFFER } from '../files.ts';
import { StoredGzip } from './stored-gzip.ts';
import type { Descriptor, Digest } from '../image/types.ts';
import { MediaType } from '../image/types.ts';

/** The gzip level of every layer cconv compresses (zlib's default: the usual speed/size balance). */
export const GZIP_LEVEL = 6;

/** A pass-through that hashes and counts what flows through it and reports byte counts. */
class Tap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  digest(): Digest {
    return `sha256:${this.hash.digest('hex')}` as Digest;
  }
}

/** A layer written to a temp file: its gzip blob's descriptor, diff_id and file. */
export interface SpooledLayer {
  descriptor: Descriptor;
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  file: string;
}

/** How spoolLayer compresses: deflate at GZIP_LEVEL, or stored blocks (for incompressible content). */
export type LayerCompression = 'deflate' | 'stored';

/**
 * Writes `tar` as gzip to `file` (which must not exist), returning the digests. `onBytes`
 * sees uncompressed byte counts. On any error the partial file is removed and the error rethrown
 * (fs errors as E_IO; CconvErrors from the tar source unchanged).
 */
export async function spoolLayer(tar: Readable, file: string, onBytes?: (n: number) => void, compression: LayerCompression = 'deflate'): Promise<SpooledLayer> {
  const raw = new Tap(onBytes);
  const packed = new Tap();
  try {
    const gzip = compression === 'stored' ? new StoredGzip() : createGzip({ level: GZIP_LEVEL });
    await pipeline(tar, raw, gzip, packed, createWriteStream(file, { flags: 'wx', highWaterMark: BULK_WRITE_BUFFER }));
  } catch (err) {
    tar.destroy();
    await rm(file, { force: true });
    throw wrapIoError(err, `writing layer ${file}`);
  }
  return {
    descriptor: { mediaType: MediaType.OciLayerGzip, digest: packed.digest(), size: packed.bytes },
    diffId: raw.digest(),
    tarSize: raw.bytes,
    file,
  };
}

/** Opens a spooled layer's blob for reading (E_IO if it is gone). */
export async function openSpooled(file: string): Promise<Readable> {
  const stream = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) => reject(wrapIoError(err, `opening layer ${file}`)));
  });
  return stream;
}
