/**
 * OCI image layout directory as a destination. Blobs are written to temp names and renamed into
 * `blobs/ALG/HEX` only after their digest and size check; `index.json` is replaced atomically
 * (temp + rename) at commit, so the tag appears only then. Not safe against concurrent writers
 * of the same layout.
 */
import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CconvError, wrapIoError } from '../errors.ts';
import { BULK_WRITE_BUFFER } from '../files.ts';
import { createVerifier, digestOf, parseDigest } from '../image/digest.ts';
import type { Descriptor, Digest, Index } from '../image/types.ts';
import { MediaType } from '../image/types.ts';
import { parseImageDocument, validateDescriptor } from '../image/validate.ts';
import { blobPath, notRegularBlob, openRegularFile } from './fs-blob.ts';
import { REF_NAME, readLayoutIndex } from './oci-layout.ts';
import type { ImageDestination, ImageReference } from './types.ts';

const OCI_LAYOUT_BYTES = '{"imageLayoutVersion":"1.0.0"}';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw wrapIoError(err, `checking ${path}`);
  }
}


const tmpSuffix = (): string => `.tmp-${randomBytes(6).toString('hex')}`;

/** Writes one image into an OCI layout (created when missing), tagged with the reference's tag if any. */
export class OciLayoutDestination implements ImageDestination {
  readonly reference: ImageReference & { transport: 'oci' };
  /** Each blob goes to its own temp file, renamed into place: any number of putBlob at once. */
  readonly concurrentBlobs = Infinity;
  private readonly added: string[] = [];
  private readonly createdDirs: string[] = [];
  private manifest: Descriptor | undefined;
  private state: 'open' | 'committed' | 'aborted' = 'open';
  private prepared: Promise<void> | undefined;

  constructor(reference: ImageReference & { transport: 'oci' }) {
    this.reference = reference;
  }

  private get dir(): string {
    return this.reference.dir;
  }

  private check(): void {
    if (this.state !== 'open') throw new CconvError('E_INTERNAL', `OCI layout destination already ${this.state}`);
  }

  /** Creates the layout skeleton once; remembers what it created so abort can remove it. */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      for (const d of [this.dir, join(this.dir, 'blobs'), join(this.dir, 'blobs', 'sha256')]) {
        if (!(await exists(d))) {
          await mkdir(d).catch((err: unknown) => Promise.reject(wrapIoError(err, `creating ${d}`)));
          this.createdDirs.push(d);
        }
      }
      const layoutFile = join(this.dir, 'oci-layout');
      if (!(await exists(layoutFile))) {
        await writeFile(layoutFile, OCI_LAYOUT_BYTES).catch((err: unknown) => Promise.reject(wrapIoError(err, `writing ${layoutFile}`)));
        this.added.push(layoutFile);
      }
    })();
    return this.prepared;
  }

  /** True when the blob file exists with the descriptor's size. */
  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    try {
      return (await stat(blobPath(this.dir, parseDigest(descriptor.digest)))).size === descriptor.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
      throw wrapIoError(err, `checking blob ${descriptor.digest}`);
    }
  }

  /** Streams `content` to a temp file, verifies it, then renames it into place; the temp file is removed on failure. */
  async putBlob(descriptor: Descriptor, content: Readable): Promise<void> {
    await this.store(descriptor, async (tmp, verifier) => {
      // A large buffer lets chunks (16 KiB TLS records from a registry) pile up while a write is in
      // flight and go out in one writev, instead of one thread-pool round trip per chunk.
      await pipeline(content, verifier, createWriteStream(tmp, { flags: 'wx', highWaterMark: BULK_WRITE_BUFFER }));
    }, () => content.destroy());
  }

  /**
   * Copies the local blob file `path` to a temp file in the kernel (a reflink where the file system
   * has them, else copy_file_range: no pass through this process), hashes the copy, then renames
   * it into place. About 4x faster than putBlob for a file on the same machine. E_BLOB_MISSING
   * when `path` is not a regular file (copying from a FIFO would wait for a writer forever); the
   * check opens the file without blocking, and only a file swapped between the check and the copy
   * could slip past it.
   */
  async putBlobFile(descriptor: Descriptor, path: string): Promise<void> {
    await this.store(descriptor, async (tmp, verifier) => {
      await (await openRegularFile(path, (kind) => notRegularBlob(descriptor, path, kind))).handle.close();
      await copyFile(path, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      // What is verified is the copy itself, so a source changing meanwhile cannot slip through.
      await pipeline(createReadStream(tmp, { highWaterMark: BULK_WRITE_BUFFER }), verifier, new Writable({ write: (_c, _e, cb) => cb() }));
    });
  }

  /** Writes a blob through `write(tmp, verifier)`, then renames it into place; the temp file goes on failure. */
  private async store(descriptor: Descriptor, write: (tmp: string, verifier: Duplex) => Promise<void>, onFailure?: () => void): Promise<void> {
    this.check();
    validateDescriptor(descriptor, 'blob descriptor');
    await this.prepare();
    const final = blobPath(this.dir, descriptor.digest);
    await mkdir(dirname(final), { recursive: true }).catch((err: unknown) => Promise.reject(wrapIoError(err, `creating ${dirname(final)}`)));
    const existed = await exists(final);
    const tmp = final + tmpSuffix();
    try {
      await write(tmp, createVerifier(descriptor.digest, { size: descriptor.size, what: `blob ${descriptor.digest}` }));
      await rename(tmp, final);
    } catch (err) {
      onFailure?.();
      await rm(tmp, { force: true });
      throw wrapIoError(err, `writing blob ${descriptor.digest}`);
    }
    if (!existed) this.added.push(final);
  }

  /** Stores the manifest (or index) as a blob and remembers it for commit. */
  async putManifest(bytes: Buffer, mediaType: string): Promise<Digest> {
    this.check();
    parseImageDocument(bytes, mediaType);
    const digest = digestOf(bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    await this.putBlob(descriptor, Readable.from([bytes]));
    this.manifest = descriptor;
    return digest;
  }

  /** Adds the manifest to index.json (replacing an entry with the same tag) via temp file + rename. */
  async commit(): Promise<void> {
    this.check();
    if (this.manifest === undefined) throw new CconvError('E_INTERNAL', 'commit before putManifest');
    const indexPath = join(this.dir, 'index.json');
    const index: Index = (await exists(indexPath))
      ? await readLayoutIndex(this.dir)
      : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    const tag = this.reference.tag;
    const entry: Descriptor = { ...this.manifest };
    if (tag !== undefined) entry.annotations = { [REF_NAME]: tag };
    const kept = index.manifests.filter((d) =>
      tag !== undefined ? d.annotations?.[REF_NAME] !== tag : !(d.digest === entry.digest && d.annotations?.[REF_NAME] === undefined),
    );
    const next = { ...index, manifests: [...kept, entry] };
    const tmp = indexPath + tmpSuffix();
    try {
      await writeFile(tmp, JSON.stringify(next), { flag: 'wx' });
      await rename(tmp, indexPath);
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrapIoError(err, `writing ${indexPath}`);
    }
    this.state = 'committed';
  }

  /** Removes the blobs (and skeleton files/dirs) this destination added; no-op after commit. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.prepared?.catch(() => {});
    for (const path of this.added.reverse()) await rm(path, { force: true });
    for (const d of this.createdDirs.reverse()) await rmdir(d).catch(() => {});
  }
}
