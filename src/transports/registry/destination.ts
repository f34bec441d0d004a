/**
 * A registry repository as an ImageDestination. Blobs are uploaded (or mounted from another
 * repository of the same registry) as they come; manifests are only recorded by putManifest and
 * PUT at commit, so nothing is visible under the reference before commit, and abort has nothing
 * to remove (orphaned blobs are the registry's garbage collection's business).
 */
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { digestOf } from '../../image/digest.ts';
import type { Descriptor, Digest } from '../../image/types.ts';
import { parseImageDocument, validateDescriptor } from '../../image/validate.ts';
import type { ImageDestination, ImageReference } from '../types.ts';
import type { RegistryClient } from './client.ts';
import { connectRegistry, type RegistryOptions } from './source.ts';
import { mountBlob, uploadBlob } from './upload.ts';

/** Options of RegistryDestination. */
export interface RegistryDestinationOptions extends RegistryOptions {
  /** Blobs up to this size are PUT at once, larger ones in PATCH chunks of this size; default 16 MiB. */
  chunkSize?: number;
  /** A repository on the same registry holding the blobs: they are mounted instead of uploaded. */
  mountFrom?: string;
  /** Called with bytes uploaded. */
  onBytes?: (n: number) => void;
}

type DockerRef = ImageReference & { transport: 'docker' };

/** Writes one image to a registry (`docker://`); see the module comment for the call order. */
export class RegistryDestination implements ImageDestination {
  readonly reference: DockerRef;
  /** Each blob is its own upload session (keep-alive agent, no socket cap): any number at once. */
  readonly concurrentBlobs = Infinity;
  private readonly options: RegistryDestinationOptions;
  private client: Promise<RegistryClient> | undefined;
  private readonly manifests: Array<{ bytes: Buffer; mediaType: string; digest: Digest }> = [];
  private state: 'open' | 'committed' | 'aborted' = 'open';

  constructor(reference: DockerRef, options: RegistryDestinationOptions = {}) {
    this.reference = reference;
    this.options = options;
  }

  private connect(): Promise<RegistryClient> {
    this.client ??= connectRegistry(this.reference, this.options);
    return this.client;
  }

  private check(): void {
    if (this.state !== 'open') throw new CconvError('E_INTERNAL', `registry destination is ${this.state}`);
  }

  /** HEADs the blob in the destination repository (with push scope, the one uploads need anyway). */
  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return (await this.connect()).hasBlob(this.reference.repository, descriptor.digest, 'pull,push');
  }

  /** Mounts (when `mountFrom` is set and the registry agrees) or uploads the blob; the stream is consumed or destroyed. */
  async putBlob(descriptor: Descriptor, content: Readable): Promise<void> {
    this.check();
    validateDescriptor(descriptor, 'blob descriptor');
    const client = await this.connect();
    const { repository } = this.reference;
    try {
      let location: string | undefined;
      if (this.options.mountFrom !== undefined && this.options.mountFrom !== repository) {
        const mounted = await mountBlob(client, repository, descriptor.digest, this.options.mountFrom);
        if (mounted.mounted) {
          content.destroy();
          return;
        }
        location = mounted.location;
      }
      const upload: Parameters<typeof uploadBlob>[4] = {};
      if (location !== undefined) upload.location = location;
      if (this.options.chunkSize !== undefined) upload.chunkSize = this.options.chunkSize;
      if (this.options.onBytes !== undefined) upload.onBytes = this.options.onBytes;
      await uploadBlob(client, repository, descriptor, content, upload);
    } catch (err) {
      content.destroy();
      throw err;
    }
  }

  /** Validates and records the manifest (PUT happens at commit); returns its digest. */
  async putManifest(bytes: Buffer, mediaType: string): Promise<Digest> {
    this.check();
    parseImageDocument(bytes, mediaType);
    const digest = digestOf(bytes);
    this.manifests.push({ bytes, mediaType, digest });
    return digest;
  }

  /**
   * PUTs the recorded manifests: all but the last by digest (children of an index), the last under
   * the reference's tag, or its digest (which must then match).
   */
  async commit(): Promise<void> {
    this.check();
    const last = this.manifests[this.manifests.length - 1];
    if (last === undefined) throw new CconvError('E_INTERNAL', 'commit before putManifest');
    const { repository, tag, digest } = this.reference;
    if (tag === undefined && digest !== undefined && digest !== last.digest) {
      throw new CconvError('E_DIGEST_MISMATCH', `the manifest has digest ${last.digest}, not ${digest} as the destination reference says`);
    }
    const client = await this.connect();
    for (const m of this.manifests.slice(0, -1)) await client.putManifest(repository, m.digest, m.bytes, m.mediaType);
    await client.putManifest(repository, tag ?? last.digest, last.bytes, last.mediaType);
    this.state = 'committed';
    client.close();
  }

  /** Forgets the recorded manifests and releases the sockets; uploaded blobs stay unreferenced. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.manifests.length = 0;
    (await this.client?.catch(() => undefined))?.close();
  }
}
