/**
 * Builds small, deterministic images for tests: layers from tar entries (none/gzip/zstd), OCI image
 * layouts (single images and multi-platform indexes) and `docker save` archives (legacy layout or
 * the Docker 25+ variant with an embedded OCI layout). Same input, same bytes: tar headers have
 * mtime 0 and owner 0:0 unless given, gzip has no name/mtime, zstd comes from the `zstd` CLI.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { Compression, Descriptor, Digest, Index, Manifest, Platform } from '../../src/image/types.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const LAYER_TYPES: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

/** sha256 digest of bytes. */
export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** One tar entry. `content` is for files; `linkname` for symlinks and hardlinks ('link'). */
export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; default 0. */
  mtime?: number;
  linkname?: string;
}

/**
 * `size` deterministic pseudo-random bytes (xorshift32 from `seed`, each masked with `mask`): a
 * smaller mask gives data that compresses somewhat, with many compressed blocks.
 */
export function xorshiftBytes(size: number, seed: number, mask: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, x = seed; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & mask;
  }
  return out;
}

/** Packs entries, in the given order, into a tar. */
export async function buildTar(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header: Partial<tar.Header> & { name: string } = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      uname: '',
      gname: '',
      mtime: new Date((e.mtime ?? 0) * 1000),
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (body !== undefined) pack.entry(header, body, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Compresses bytes deterministically (gzip level 9 without name/mtime; zstd via /usr/bin/zstd -19). */
export function compress(data: Buffer, compression: Compression): Buffer {
  if (compression === 'gzip') return gzipSync(data, { level: 9 });
  if (compression === 'zstd') return execFileSync('zstd', ['-q', '-19', '-c', '--no-progress'], { input: data, maxBuffer: 1 << 28 });
  return data;
}

/** A built layer: the blob as stored (`bytes`), the uncompressed `tar`, and their digests. */
export interface BuiltLayer {
  bytes: Buffer;
  tar: Buffer;
  digest: Digest;
  diffId: Digest;
  size: number;
  compression: Compression;
  mediaType: string;
}

/** Builds a layer blob from tar entries. */
export async function buildLayer(entries: readonly TarEntry[], options: { compression?: Compression } = {}): Promise<BuiltLayer> {
  const compression = options.compression ?? 'none';
  const tarBytes = await buildTar(entries);
  const bytes = compress(tarBytes, compression);
  return { bytes, tar: tarBytes, digest: sha256(bytes), diffId: sha256(tarBytes), size: bytes.length, compression, mediaType: LAYER_TYPES[compression] };
}

/** What an image is made of. `config` fields are merged over the generated ones. */
export interface ImageSpec {
  layers: BuiltLayer[];
  platform?: Platform;
  config?: Record<string, unknown>;
  /** OCI ref.name (layouts) or RepoTag `name:tag` (docker archives). */
  tag?: string;
}

/** A built image: exact config and manifest bytes with their digests, and the blobs by digest. */
export interface BuiltImage {
  spec: ImageSpec;
  platform: Platform;
  configBytes: Buffer;
  configDigest: Digest;
  manifest: Manifest;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  /** Every blob of the image (config, layers, manifest) by digest. */
  blobs: Map<string, Buffer>;
}

/** Builds config and manifest (OCI media types) for an image. */
export function buildImage(spec: ImageSpec): BuiltImage {
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => l.diffId) },
    ...spec.config,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(configBytes), size: configBytes.length },
    layers: spec.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  } as Manifest;
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const blobs = new Map<string, Buffer>([[sha256(configBytes), configBytes]]);
  for (const l of spec.layers) blobs.set(l.digest, l.bytes);
  blobs.set(sha256(manifestBytes), manifestBytes);
  return { spec, platform, configBytes, configDigest: sha256(configBytes), manifest, manifestBytes, manifestDigest: sha256(manifestBytes), blobs };
}

/** Several platform images under one index (optionally tagged). */
export interface MultiPlatformSpec {
  tag?: string;
  images: ImageSpec[];
}

/** What `writeOciLayout` wrote. */
export interface OciLayoutResult {
  index: Index;
  images: BuiltImage[];
  /** Nested index documents by digest (one per MultiPlatformSpec). */
  indexes: Map<string, Buffer>;
}

function descriptorOf(image: BuiltImage, withPlatform: boolean, tag?: string): Descriptor {
  const d: Descriptor = { mediaType: OCI_MANIFEST, digest: image.manifestDigest, size: image.manifestBytes.length };
  if (withPlatform) d.platform = image.platform;
  if (tag !== undefined) d.annotations = { 'org.opencontainers.image.ref.name': tag };
  return d;
}

async function writeBlobs(dir: string, blobs: Map<string, Buffer>): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of [...blobs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
  }
}

/** Writes an OCI image layout: one index.json entry per ImageSpec (a manifest) or MultiPlatformSpec (a nested index). */
export async function writeOciLayout(dir: string, entries: ReadonlyArray<ImageSpec | MultiPlatformSpec>): Promise<OciLayoutResult> {
  const images: BuiltImage[] = [];
  const indexes = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  const manifests: Descriptor[] = [];
  for (const entry of entries) {
    if ('images' in entry) {
      const built = entry.images.map(buildImage);
      images.push(...built);
      const nested = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: built.map((b) => descriptorOf(b, true)) }));
      indexes.set(sha256(nested), nested);
      blobs.set(sha256(nested), nested);
      for (const b of built) for (const [k, v] of b.blobs) blobs.set(k, v);
      const d: Descriptor = { mediaType: OCI_INDEX, digest: sha256(nested), size: nested.length };
      if (entry.tag !== undefined) d.annotations = { 'org.opencontainers.image.ref.name': entry.tag };
      manifests.push(d);
    } else {
      const b = buildImage(entry);
      images.push(b);
      for (const [k, v] of b.blobs) blobs.set(k, v);
      manifests.push(descriptorOf(b, entry.platform !== undefined, entry.tag));
    }
  }
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests } as Index;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await writeBlobs(dir, blobs);
  return { index, images, indexes };
}

/**
 * Writes a `docker save` tar. 'legacy': `<hex>.json` configs, `<hex>/layer.tar` layers (a layer
 * shared by images or repeated within one is stored once), `repositories`, manifest.json last.
 * 'oci' (Docker 25+): blobs/sha256/*, index.json, oci-layout, manifest.json pointing into blobs/.
 */
export async function writeDockerArchive(file: string, specs: readonly ImageSpec[], options: { variant?: 'legacy' | 'oci' } = {}): Promise<{ images: BuiltImage[]; bytes: Buffer }> {
  const variant = options.variant ?? 'legacy';
  const images = specs.map(buildImage);
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const add = (name: string, content: Buffer): void => {
    if (seen.has(name)) return;
    seen.add(name);
    entries.push({ name, content });
  };
  const manifestJson = images.map((img) => {
    const hex = (d: string): string => d.slice(7);
    if (variant === 'oci') {
      for (const [d, bytes] of img.blobs) add(`blobs/sha256/${hex(d)}`, bytes);
      return { Config: `blobs/sha256/${hex(img.configDigest)}`, RepoTags: img.spec.tag ? [img.spec.tag] : [], Layers: img.spec.layers.map((l) => `blobs/sha256/${hex(l.digest)}`) };
    }
    add(`${hex(img.configDigest)}.json`, img.configBytes);
    for (const l of img.spec.layers) {
      if (!seen.has(`${hex(l.digest)}/`)) entries.push({ name: `${hex(l.digest)}/`, type: 'directory' });
      seen.add(`${hex(l.digest)}/`);
      add(`${hex(l.digest)}/layer.tar`, l.bytes);
    }
    return { Config: `${hex(img.configDigest)}.json`, RepoTags: img.spec.tag ? [img.spec.tag] : [], Layers: img.spec.layers.map((l) => `${hex(l.digest)}/layer.tar`) };
  });
  if (variant === 'oci') {
    const manifests = images.map((img) => {
      const d: Descriptor = { mediaType: OCI_MANIFEST, digest: img.manifestDigest, size: img.manifestBytes.length };
      if (img.spec.tag) d.annotations = { 'io.containerd.image.name': img.spec.tag, 'org.opencontainers.image.ref.name': img.spec.tag.split(':').pop()! };
      return d;
    });
    entries.push({ name: 'index.json', content: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }) });
    entries.push({ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' });
  } else {
    entries.push({ name: 'repositories', content: '{}' });
  }
  entries.push({ name: 'manifest.json', content: JSON.stringify(manifestJson) });
  const bytes = await buildTar(entries);
  await writeFile(file, bytes);
  return { images, bytes };
}
