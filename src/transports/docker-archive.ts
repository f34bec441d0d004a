/**
 * `docker save` tars as a source: the legacy layout (manifest.json with Config/RepoTags/Layers,
 * layer tars possibly gzip-compressed or shared) and the Docker 25+ variant that also carries an
 * OCI layout (oci-layout, index.json, blobs/) with manifest.json pointing into blobs/.
 * The tar is spooled to a temp dir (see archive-spool.ts), removed by Image.close() or on error.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CconvError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { ociLayerMediaType, sniffCompression } from '../image/media.ts';
import { DEFAULT_PLATFORM } from '../image/platform.ts';
import { MAX_DOCUMENT_BYTES, imageFromManifest, readBlob, type BlobOpener } from '../image/resolve.ts';
import { MediaType, type Descriptor, type Digest, type Manifest } from '../image/types.ts';
import { invalid, isObject, parseImageDocument, parseIndex } from '../image/validate.ts';
import { runTask, silentReporter } from '../progress.ts';
import { lookupMember, spoolTar, type Spool, type SpooledMember } from './archive-spool.ts';
import { familiarName, parseDockerName } from './docker-name.ts';
import { openFileBlob } from './fs-blob.ts';
import { REFERENCE_FORMS } from './reference.ts';
import type { ImageReference, ImageSource, OpenOptions } from './types.ts';

/** One entry of a docker-save manifest.json. */
export interface ArchiveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

async function readMember(spool: Spool, name: string, file: string): Promise<{ member: SpooledMember; bytes: Buffer }> {
  const member = lookupMember(spool, name);
  if (member === undefined) throw new CconvError('E_BLOB_MISSING', `${file}: archive member ${JSON.stringify(name)} is missing`);
  if (member.size > MAX_DOCUMENT_BYTES) throw new CconvError('E_MANIFEST_INVALID', `${file}: ${name} is over ${MAX_DOCUMENT_BYTES} bytes`);
  return { member, bytes: await readFile(member.path) };
}

/** Parses a docker-save manifest.json (E_MANIFEST_INVALID when malformed). */
export function parseArchiveManifest(bytes: Buffer, what: string): ArchiveEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new CconvError('E_MANIFEST_INVALID', `${what}: not valid JSON`, { cause: err });
  }
  if (!Array.isArray(doc)) invalid(what, 'must be an array');
  return doc.map((e: unknown, i) => {
    if (!isObject(e) || typeof e.Config !== 'string') invalid(`${what}[${i}].Config`, 'must be a string');
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (!strings(e.Layers)) invalid(`${what}[${i}].Layers`, 'must be an array of strings');
    if (e.RepoTags !== undefined && e.RepoTags !== null && !strings(e.RepoTags)) invalid(`${what}[${i}].RepoTags`, 'must be an array of strings');
    return { Config: e.Config, Layers: e.Layers, RepoTags: (e.RepoTags as string[] | null | undefined) ?? [] };
  });
}

function normalTag(tag: string): string {
  try {
    const n = parseDockerName(tag, REFERENCE_FORMS);
    return familiarName(n.tag === undefined && n.digest === undefined ? { ...n, tag: 'latest' } : n);
  } catch {
    return tag;
  }
}

/** Picks the entry for `tag` (familiar `name:tag`), or the only one; E_IMAGE_NOT_FOUND / E_USAGE otherwise. */
export function pickArchiveEntry(entries: ArchiveEntry[], tag: string | undefined, file: string): ArchiveEntry {
  const tags = entries.flatMap((e) => e.RepoTags).sort();
  const listed = tags.length > 0 ? tags.join(', ') : '(no tags)';
  if (tag !== undefined) {
    const wanted = normalTag(tag);
    const found = entries.find((e) => e.RepoTags.some((t) => normalTag(t) === wanted));
    if (found === undefined) throw new CconvError('E_IMAGE_NOT_FOUND', `${file} has no image tagged ${tag}; tags: ${listed}`);
    return found;
  }
  if (entries.length === 1) return entries[0]!;
  if (entries.length === 0) throw new CconvError('E_IMAGE_NOT_FOUND', `${file} holds no images`);
  throw new CconvError('E_USAGE', `${file} holds ${entries.length} images; choose one by tag: ${listed}`, {
    hint: 'use docker-archive:FILE:NAME:TAG',
  });
}

/** Finds, in the archive's OCI index, the manifest whose config is `configDigest` (Docker 25+ variant). */
async function findOciManifest(spool: Spool, openBlob: BlobOpener, configDigest: Digest, file: string): Promise<{ bytes: Buffer; mediaType: string; manifest: Manifest } | undefined> {
  if (lookupMember(spool, 'index.json') === undefined || lookupMember(spool, 'oci-layout') === undefined) return undefined;
  const top = parseIndex((await readMember(spool, 'index.json', file)).bytes, undefined, `${file}: index.json`);
  let queue: Descriptor[] = top.manifests;
  for (let depth = 0; depth < 4 && queue.length > 0; depth++) {
    const next: Descriptor[] = [];
    for (const d of queue) {
      if (!spool.byDigest.has(d.digest)) continue; // Docker omits the blobs of platforms it did not pull
      const bytes = await readBlob(openBlob, d, 'manifest');
      const doc = parseImageDocument(bytes, d.mediaType, `${file}: manifest ${d.digest}`);
      if (doc.kind === 'index') next.push(...doc.index.manifests);
      else if (doc.manifest.config.digest === configDigest) return { bytes, mediaType: doc.mediaType, manifest: doc.manifest };
    }
    queue = next;
  }
  return undefined;
}

/** A manifest for a legacy entry: OCI media types, config and layers by sha256, compression sniffed. */
function synthesizeManifest(spool: Spool, entry: ArchiveEntry, config: SpooledMember, file: string): Manifest {
  const layers = entry.Layers.map((name): Descriptor => {
    const m = lookupMember(spool, name);
    if (m === undefined) throw new CconvError('E_BLOB_MISSING', `${file}: layer ${JSON.stringify(name)} is missing from the archive`);
    return { mediaType: ociLayerMediaType(sniffCompression(m.head)), digest: m.digest, size: m.size };
  });
  return { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size }, layers };
}

/** An image source over a `docker save` tar. */
export class DockerArchiveSource implements ImageSource {
  readonly reference: ImageReference & { transport: 'docker-archive' };

  constructor(reference: ImageReference & { transport: 'docker-archive' }) {
    this.reference = reference;
  }

  /** Spools the archive (temp dir under options.tmpDir), selects the image and returns it; close() removes the spool. */
  async open(options: OpenOptions = {}): Promise<Image> {
    const { file, tag } = this.reference;
    const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'cconv-archive-')).catch((err: unknown) => {
      throw new CconvError('E_IO', `creating a temp directory: ${(err as Error).message}`, { cause: err });
    });
    const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
    try {
      const report = options.report ?? silentReporter;
      const spool = await runTask(report, `spool:${file}`, `Reading ${file}`, (advance) =>
        spoolTar(file, dir, options.signal ? { signal: options.signal, onBytes: advance } : { onBytes: advance }),
      );
      const manifestJson = await readMember(spool, 'manifest.json', file).catch((err: unknown) => {
        if (err instanceof CconvError && err.code === 'E_BLOB_MISSING') throw new CconvError('E_IMAGE_NOT_FOUND', `${file} is not a docker save archive (no manifest.json)`);
        throw err;
      });
      const entry = pickArchiveEntry(parseArchiveManifest(manifestJson.bytes, `${file}: manifest.json`), tag, file);
      const config = (await readMember(spool, entry.Config, file)).member;
      const openBlob: BlobOpener = async (d) => {
        const m = spool.byDigest.get(d.digest) ?? lookupMember(spool, `blobs/${d.digest.replace(':', '/')}`);
        if (m === undefined) throw new CconvError('E_BLOB_MISSING', `blob ${d.digest} (${d.mediaType}) is missing from ${file}`);
        return openFileBlob(m.path, d);
      };
      const oci = await findOciManifest(spool, openBlob, config.digest, file);
      const manifest = oci?.manifest ?? synthesizeManifest(spool, entry, config, file);
      const manifestBytes = oci?.bytes ?? Buffer.from(JSON.stringify(manifest));
      return await imageFromManifest({
        manifestBytes,
        manifestMediaType: oci?.mediaType ?? MediaType.OciManifest,
        manifest,
        openBlob,
        requirePlatform: options.platform ?? DEFAULT_PLATFORM,
        close: cleanup,
      });
    } catch (err) {
      await cleanup();
      throw err;
    }
  }
}
