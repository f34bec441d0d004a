/**
 * Writes one image as a `docker save`-style tar that `docker load` accepts (legacy layout:
 * `<config-hex>.json`, `<layer-hex>/layer.tar` as given, compressed or not, and manifest.json last).
 * The tar is streamed to FILE.tmp-XXXX and renamed to FILE at commit. Entries have fixed owners,
 * modes and mtime 0, in putBlob order. A failed putBlob breaks the tar: the destination then only
 * accepts abort().
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { CconvError, wrapIoError } from '../errors.ts';
import { BULK_WRITE_BUFFER } from '../files.ts';
import { createVerifier, digestOf, splitDigest } from '../image/digest.ts';
import { isConfigMediaType, isLayerMediaType } from '../image/media.ts';
import type { Descriptor, Digest } from '../image/types.ts';
import { parseImageDocument, validateDescriptor } from '../image/validate.ts';
import type { ImageDestination, ImageReference } from './types.ts';

const EPOCH = new Date(0);

function memberName(d: Descriptor): string {
  const { algorithm, hex } = splitDigest(d.digest);
  if (isConfigMediaType(d.mediaType)) return `${hex}.json`;
  if (isLayerMediaType(d.mediaType)) return `${hex}/layer.tar`;
  return `blobs/${algorithm}/${hex}`;
}

/** An ImageDestination writing a docker-archive file; the reference's tag (if any) goes into RepoTags. */
export class DockerArchiveDestination implements ImageDestination {
  readonly reference: ImageReference & { transport: 'docker-archive' };
  /** One tar written front to back: blobs go in one at a time. */
  readonly concurrentBlobs = 1;
  private readonly tmp: string;
  private pack: tar.Pack | undefined;
  private writing: Promise<void> | undefined;
  private readonly written = new Map<Digest, string>();
  private entry: { Config: string; RepoTags: string[]; Layers: string[] } | undefined;
  private state: 'open' | 'failed' | 'committed' | 'aborted' = 'open';

  constructor(reference: ImageReference & { transport: 'docker-archive' }) {
    this.reference = reference;
    this.tmp = `${reference.file}.tmp-${randomBytes(6).toString('hex')}`;
  }

  private check(): void {
    if (this.state !== 'open') throw new CconvError('E_INTERNAL', `docker-archive destination is ${this.state}`);
  }

  private start(): tar.Pack {
    if (this.pack === undefined) {
      this.pack = tar.pack();
      this.writing = pipeline(this.pack, createWriteStream(this.tmp, { flags: 'wx', highWaterMark: BULK_WRITE_BUFFER }));
      this.writing.catch(() => {}); // awaited in commit; failures also surface through the entries
    }
    return this.pack;
  }

  private async add(name: string, size: number, content: Readable, verifier?: NodeJS.ReadWriteStream): Promise<void> {
    const pack = this.start();
    const slash = name.lastIndexOf('/');
    if (slash > 0 && !name.startsWith('blobs/')) {
      pack.entry({ name: name.slice(0, slash + 1), type: 'directory', mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 });
    }
    const sink = pack.entry({ name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 });
    await (verifier ? pipeline(content, verifier, sink) : pipeline(content, sink));
  }

  /** True when the blob was already written by this destination. */
  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.written.has(descriptor.digest);
  }

  /** Streams the blob into the tar (config as `<hex>.json`, layers as `<hex>/layer.tar`), checking digest and size. */
  async putBlob(descriptor: Descriptor, content: Readable): Promise<void> {
    this.check();
    validateDescriptor(descriptor, 'blob descriptor');
    if (this.written.has(descriptor.digest)) {
      content.resume();
      return;
    }
    const name = memberName(descriptor);
    try {
      await this.add(name, descriptor.size, content, createVerifier(descriptor.digest, { size: descriptor.size, what: `blob ${descriptor.digest}` }));
    } catch (err) {
      this.state = 'failed';
      content.destroy();
      throw wrapIoError(err, `writing ${this.tmp}`);
    }
    this.written.set(descriptor.digest, name);
  }

  /** Checks that the manifest's config and layers were all put, and records the manifest.json entry. */
  async putManifest(bytes: Buffer, mediaType: string): Promise<Digest> {
    this.check();
    const doc = parseImageDocument(bytes, mediaType);
    if (doc.kind !== 'manifest') throw new CconvError('E_UNSUPPORTED', 'a docker archive holds single-platform images, not an index');
    const nameOf = (d: Descriptor): string => {
      const name = this.written.get(d.digest);
      if (name === undefined) throw new CconvError('E_BLOB_MISSING', `blob ${d.digest} was not written before the manifest`);
      return name;
    };
    const tag = this.reference.tag;
    this.entry = {
      Config: nameOf(doc.manifest.config),
      RepoTags: tag === undefined ? [] : [tag.includes(':', tag.lastIndexOf('/') + 1) ? tag : `${tag}:latest`],
      Layers: doc.manifest.layers.filter((d) => isLayerMediaType(d.mediaType)).map(nameOf),
    };
    return digestOf(bytes);
  }

  /** Writes manifest.json, finishes the tar and renames it to FILE. */
  async commit(): Promise<void> {
    this.check();
    if (this.entry === undefined) throw new CconvError('E_INTERNAL', 'commit before putManifest');
    try {
      const json = Buffer.from(JSON.stringify([this.entry]));
      await this.add('manifest.json', json.length, Readable.from([json]));
      this.pack!.finalize();
      await this.writing;
      await rename(this.tmp, this.reference.file);
    } catch (err) {
      this.state = 'failed';
      throw wrapIoError(err, `writing ${this.reference.file}`);
    }
    this.state = 'committed';
  }

  /** Stops writing and removes the temp file; no-op after commit. */
  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.pack?.destroy();
    await this.writing?.catch(() => {});
    await rm(this.tmp, { force: true });
  }
}
