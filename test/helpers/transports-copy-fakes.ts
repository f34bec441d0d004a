/**
 * In-memory fakes for copyImage tests: an ImageSource over buffers (real sha256 digests; a layer
 * can be "gated" so its stream only ends when released or destroyed) and an ImageDestination that
 * verifies digest and size like the real ones, stores blobs in a Map, counts concurrent putBlob
 * calls and logs every call in order.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CconvError } from '../../src/errors.ts';
import type { Image, Layer } from '../../src/image/image.ts';
import type { Descriptor, Digest, ImageConfig, Manifest } from '../../src/image/types.ts';
import type { ImageDestination, ImageReference, ImageSource } from '../../src/transports/types.ts';

export const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';

export const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

/** A layer's bytes, and optionally a gate: its stream sends the bytes but ends only once `release()` is called. */
export interface FakeLayer {
  bytes: Buffer;
  gated?: boolean;
}

/** A source image plus what happened to its streams. */
export interface FakeSource extends ImageSource {
  readonly layerDescriptors: Descriptor[];
  readonly configDescriptor: Descriptor;
  readonly manifestDigest: Digest;
  /** Digests whose stored stream was opened, in order. */
  readonly opened: Digest[];
  /** The streams handed out, by digest (the last one opened). */
  readonly streams: Map<Digest, Readable>;
  /** Ends every gated stream still open. */
  release(): void;
  closed: number;
}

/** An image of `layers` (in manifest order; the same bytes twice give the same digest twice). */
export function fakeSource(layers: FakeLayer[]): FakeSource {
  const descriptors = layers.map((l) => ({ mediaType: LAYER_TYPE, digest: sha256(l.bytes), size: l.bytes.length }));
  const config: ImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: descriptors.map((d) => d.digest) } };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length };
  const manifest: Manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDescriptor, layers: descriptors };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const releases: Array<() => void> = [];
  const opened: Digest[] = [];
  const streams = new Map<Digest, Readable>();
  const source: FakeSource = {
    reference: { transport: 'oci', dir: '/fake' },
    layerDescriptors: descriptors,
    configDescriptor,
    manifestDigest: sha256(manifestBytes),
    opened,
    streams,
    closed: 0,
    release: () => releases.splice(0).forEach((r) => r()),
    async open(): Promise<Image> {
      const imageLayers: Layer[] = layers.map((l, index) => {
        const descriptor = descriptors[index]!;
        const openStored = async (): Promise<Readable> => {
          opened.push(descriptor.digest);
          let sent = false;
          const stream = new Readable({
            read() {
              if (sent) return;
              sent = true;
              this.push(l.bytes);
              if (l.gated === true) releases.push(() => this.push(null));
              else this.push(null);
            },
          });
          streams.set(descriptor.digest, stream);
          return stream;
        };
        const unsupported = async (): Promise<Readable> => {
          throw new Error('copyImage must use openStored');
        };
        return { index, descriptor, diffId: descriptor.digest, compression: 'none', openStored, openCompressed: unsupported, openUncompressed: unsupported };
      });
      return {
        manifestBytes, manifestDigest: sha256(manifestBytes), manifestMediaType: manifest.mediaType!, manifest, configBytes, config,
        platform: { os: 'linux', architecture: 'amd64' }, layers: imageLayers,
        close: async () => void source.closed++,
      };
    },
  };
  return source;
}

/** Called inside putBlob after the content was read and verified, before it is stored. */
export type PutHook = (descriptor: Descriptor, dest: MemoryDestination) => Promise<void>;

/** An ImageDestination in memory. `log` lists `has:`/`put:`/`end:`/`fail:` + digest, `manifest`, `commit`, `abort`. */
export class MemoryDestination implements ImageDestination {
  readonly reference: ImageReference = { transport: 'oci', dir: '/memory' };
  readonly concurrentBlobs: number | undefined;
  readonly blobs = new Map<Digest, Buffer>();
  readonly log: string[] = [];
  /** Errors putBlob calls rejected with, by digest. */
  readonly errors = new Map<Digest, unknown>();
  active = 0;
  maxActive = 0;
  /** putBlob calls running when abort() was called. */
  activeAtAbort: number | undefined;
  hook: PutHook | undefined;

  constructor(concurrentBlobs?: number, hook?: PutHook) {
    this.concurrentBlobs = concurrentBlobs;
    this.hook = hook;
  }

  async hasBlob(d: Descriptor): Promise<boolean> {
    this.log.push(`has:${d.digest}`);
    return this.blobs.has(d.digest);
  }

  async putBlob(d: Descriptor, content: Readable): Promise<void> {
    this.log.push(`put:${d.digest}`);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const parts: Buffer[] = [];
      for await (const chunk of content) parts.push(chunk as Buffer);
      const bytes = Buffer.concat(parts);
      if (bytes.length !== d.size) throw new CconvError('E_SIZE_MISMATCH', `blob ${d.digest}: ${bytes.length} bytes`);
      if (sha256(bytes) !== d.digest) throw new CconvError('E_DIGEST_MISMATCH', `blob ${d.digest}: content differs`);
      await this.hook?.(d, this);
      this.blobs.set(d.digest, bytes);
      this.log.push(`end:${d.digest}`);
    } catch (err) {
      content.destroy();
      this.errors.set(d.digest, err);
      this.log.push(`fail:${d.digest}`);
      throw err;
    } finally {
      this.active--;
    }
  }

  async putManifest(bytes: Buffer): Promise<Digest> {
    this.log.push('manifest');
    return sha256(bytes);
  }

  async commit(): Promise<void> {
    this.log.push('commit');
  }

  async abort(): Promise<void> {
    this.activeAtAbort ??= this.active;
    this.log.push('abort');
  }
}

/** Resolves once `cond()` holds, polling on setImmediate (no wall-clock waits). */
export async function until(cond: () => boolean, rounds = 10_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition never held');
}
