/**
 * The Docker daemon as an ImageDestination: blobs and manifest go into a docker-archive tar in a
 * temp dir (through the docker-archive destination, tagged NAME:TAG), which commit streams into
 * `docker load`. Nothing reaches the daemon before commit; abort only removes the temp dir.
 */
import { createReadStream } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import type { Descriptor, Digest } from '../../image/types.ts';
import { DockerArchiveDestination } from '../docker-archive-dest.ts';
import { familiarName } from '../docker-name.ts';
import type { ImageDestination, ImageReference } from '../types.ts';
import { connectDocker, daemonError, type DockerClient } from './client.ts';
import type { DaemonOptions } from './source.ts';

type DaemonRef = ImageReference & { transport: 'docker-daemon' };

/** Options of DaemonDestination: the client and where the temp archive goes. */
export interface DaemonDestinationOptions extends DaemonOptions {
  tmpDir?: string;
}

/** The tag `docker load` gives the image: the familiar `name:tag` of the reference. */
export function loadTag(ref: DaemonRef): string {
  if (ref.tag === undefined) {
    throw new CconvError('E_USAGE', `docker-daemon:${ref.name}@${ref.digest ?? ''}: an image is loaded into Docker under a tag, not a digest`, {
      hint: 'use docker-daemon:NAME:TAG as destination',
    });
  }
  const slash = ref.name.indexOf('/');
  return familiarName({ registry: ref.name.slice(0, slash), repository: ref.name.slice(slash + 1), tag: ref.tag });
}

/** Reads the JSON lines `docker load` answers; rejects with E_DAEMON on an error line. */
async function drainLoadOutput(stream: NodeJS.ReadableStream): Promise<string[]> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let doc: { stream?: string; error?: string; errorDetail?: { message?: string } };
    try {
      doc = JSON.parse(line) as typeof doc;
    } catch {
      messages.push(line.trim());
      continue;
    }
    if (doc.error !== undefined || doc.errorDetail !== undefined) {
      throw new CconvError('E_DAEMON', `docker load failed: ${(doc.errorDetail?.message ?? doc.error ?? '').slice(0, 300)}`);
    }
    if (typeof doc.stream === 'string' && doc.stream.trim() !== '') messages.push(doc.stream.trim());
  }
  return messages;
}

/** Loads one image into the Docker daemon (`docker-daemon:NAME:TAG`). */
export class DaemonDestination implements ImageDestination {
  readonly reference: DaemonRef;
  /** Blobs go into one docker-archive tar, written front to back: one at a time. */
  readonly concurrentBlobs = 1;
  private readonly docker: DockerClient | undefined;
  private readonly tmpDir: string;
  private readonly tag: string;
  private pending: { dir: string; archive: DockerArchiveDestination } | undefined;
  private done = false;

  /** Checks the reference has a tag (E_USAGE otherwise); nothing is written before the first putBlob. */
  constructor(reference: DaemonRef, options: DaemonDestinationOptions = {}) {
    this.reference = reference;
    this.docker = options.docker;
    this.tag = loadTag(reference);
    this.tmpDir = options.tmpDir ?? tmpdir();
  }

  /** The pending archive in its temp dir, created on first use. */
  private get archive(): DockerArchiveDestination {
    if (this.pending === undefined) {
      let dir: string;
      try {
        dir = mkdtempSync(join(this.tmpDir, 'cconv-load-'));
      } catch (err) {
        throw new CconvError('E_IO', `creating a temp directory: ${(err as Error).message}`, { cause: err });
      }
      this.pending = { dir, archive: new DockerArchiveDestination({ transport: 'docker-archive', file: join(dir, 'image.tar'), tag: this.tag }) };
    }
    return this.pending.archive;
  }

  private cleanup(): void {
    if (this.pending !== undefined) rmSync(this.pending.dir, { recursive: true, force: true });
  }

  /** True when the blob was already put into the pending archive. */
  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.pending !== undefined && (await this.pending.archive.hasBlob(descriptor));
  }

  /** Streams the blob into the pending archive (digest and size checked). */
  putBlob(descriptor: Descriptor, content: Readable): Promise<void> {
    return this.archive.putBlob(descriptor, content);
  }

  /** Records the manifest; Docker keeps no manifest, so the image is identified by its config. */
  putManifest(bytes: Buffer, mediaType: string): Promise<Digest> {
    return this.archive.putManifest(bytes, mediaType);
  }

  /** Finishes the archive and streams it into `docker load`; the temp dir is removed either way. */
  async commit(): Promise<void> {
    let input: Readable | undefined;
    try {
      await this.archive.commit();
      const docker = this.docker ?? connectDocker();
      // The daemon may answer (and we clean up) before it has read the file: the stream's own
      // errors (e.g. ENOENT on its lazy open) must never become an unhandled 'error' event.
      input = createReadStream(this.archive.reference.file).on('error', () => {});
      let output: NodeJS.ReadableStream;
      try {
        output = await docker.loadImage(input, { quiet: true });
      } catch (err) {
        throw daemonError(err, 'loading the image into Docker');
      }
      await drainLoadOutput(output).catch((err: unknown) => {
        throw daemonError(err, 'loading the image into Docker');
      });
      this.done = true;
    } finally {
      input?.destroy();
      this.cleanup();
    }
  }

  /** Discards the pending archive. Idempotent; no-op after commit. */
  async abort(): Promise<void> {
    if (this.done) return;
    await this.pending?.archive.abort();
    this.cleanup();
  }
}
