/**
 * Byte-level checks over OCI image layouts for the build tests: every blob of a layout (gzip and
 * zstd blobs also decompressed), a scan of those blobs for any `window`-byte slice of a plaintext,
 * the file versions held by an image's layers, and a rewrite of one layout's layer (used to
 * tamper with a trusted file while keeping the image valid).
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import * as tar from 'tar-stream';

/** sha256 of bytes as `sha256:HEX`. */
export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** One blob of a layout: its digest, the bytes as stored, and the decompressed bytes when it is gzip/zstd. */
export interface LayoutBlob {
  digest: string;
  stored: Buffer;
  decompressed?: Buffer;
}

/** Every blob under `DIR/blobs/sha256/`, each decompressed too when it starts with the gzip or zstd magic. */
export async function layoutBlobs(dir: string): Promise<LayoutBlob[]> {
  const base = join(dir, 'blobs', 'sha256');
  const out: LayoutBlob[] = [];
  for (const name of (await readdir(base)).sort()) {
    const stored = await readFile(join(base, name));
    const blob: LayoutBlob = { digest: `sha256:${name}`, stored };
    if (stored[0] === 0x1f && stored[1] === 0x8b) blob.decompressed = gunzipSync(stored);
    else if (stored.readUInt32LE(0) === 0xfd2fb528) blob.decompressed = Buffer.from(zstdDecompress(stored));
    out.push(blob);
  }
  return out;
}

/** Where a window of a plaintext was found. */
export interface WindowHit {
  blob: string;
  form: 'stored' | 'decompressed';
  /** Offset of the window in the plaintext. */
  plainOffset: number;
}

/**
 * Finds, in every blob (stored and decompressed forms), any `window`-byte slice of `plaintext`
 * (the whole plaintext when it is shorter). Windows are indexed by their first 4 bytes, so a scan
 * costs one lookup per blob byte. At most one hit per blob form is reported.
 */
export function findWindows(blobs: readonly LayoutBlob[], plaintext: Buffer, window = 32): WindowHit[] {
  const w = Math.min(window, plaintext.length);
  if (w < 4) throw new Error(`plaintext of ${plaintext.length} bytes is too short to scan for`);
  const starts = new Map<number, number[]>();
  for (let i = 0; i + w <= plaintext.length; i++) {
    const k = plaintext.readUInt32LE(i);
    const list = starts.get(k);
    if (list) list.push(i);
    else starts.set(k, [i]);
  }
  const hits: WindowHit[] = [];
  for (const blob of blobs) {
    for (const form of ['stored', 'decompressed'] as const) {
      const bytes = blob[form];
      if (bytes === undefined) continue;
      scan: for (let pos = 0; pos + w <= bytes.length; pos++) {
        const list = starts.get(bytes.readUInt32LE(pos));
        if (list === undefined) continue;
        for (const i of list) {
          if (bytes.compare(plaintext, i, i + w, pos, pos + w) === 0) {
            hits.push({ blob: blob.digest, form, plainOffset: i });
            break scan;
          }
        }
      }
    }
  }
  return hits;
}

/** One tar member with its content (files) as read from a layer. */
export interface TarMember {
  header: tar.Header;
  content: Buffer;
}

/** Reads every member of an uncompressed tar, in order. */
export async function readTar(bytes: Buffer): Promise<TarMember[]> {
  const extract = tar.extract();
  const members: TarMember[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      members.push({ header: entry.header, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  await done;
  return members;
}

/** Writes members back into a tar with their headers unchanged (sizes taken from the contents). */
export async function writeTar(members: readonly TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (m.header.type === 'file') pack.entry({ ...m.header, size: m.content.length }, m.content, cb);
      else pack.entry(m.header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The manifest, config and layer tars of the single image an OCI layout's index.json points at. */
export interface LayoutImage {
  manifestDigest: string;
  manifest: { config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }>; [k: string]: unknown };
  config: { rootfs: { diff_ids: string[] }; config?: { Labels?: Record<string, string> }; [k: string]: unknown };
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
}

/** Reads the image of an OCI layout with one index entry. */
export async function readLayoutImage(dir: string): Promise<LayoutImage> {
  const blob = (digest: string): Promise<Buffer> => readFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const index = JSON.parse((await readFile(join(dir, 'index.json'))).toString()) as { manifests: Array<{ digest: string }> };
  if (index.manifests.length !== 1) throw new Error(`${dir}: expected one image, index.json lists ${index.manifests.length}`);
  const manifestDigest = index.manifests[0]!.digest;
  const manifest = JSON.parse((await blob(manifestDigest)).toString()) as LayoutImage['manifest'];
  const config = JSON.parse((await blob(manifest.config.digest)).toString()) as LayoutImage['config'];
  const layers: Buffer[] = [];
  for (const l of manifest.layers) {
    const bytes = await blob(l.digest);
    layers.push(l.mediaType.endsWith('+gzip') ? gunzipSync(bytes) : l.mediaType.endsWith('+zstd') ? Buffer.from(zstdDecompress(bytes)) : bytes);
  }
  return { manifestDigest, manifest, config, layers };
}

/**
 * Copies the layout `from` to `to`, replacing the content of the file member `path` (no leading
 * '/') in the layer that holds it (the topmost one) by `edit(content)`. The layer is re-tarred
 * (same members, same headers) and gzipped, and its digest, diff_id, the config and the manifest
 * are recomputed, so the copy is a valid image. Returns the layer index, the old and the new content.
 */
export async function rewriteLayoutFile(from: string, to: string, path: string, edit: (content: Buffer) => Buffer): Promise<{ layer: number; before: Buffer; content: Buffer }> {
  await cp(from, to, { recursive: true });
  const img = await readLayoutImage(to);
  let layer = -1;
  let members: TarMember[] = [];
  for (let i = img.layers.length - 1; i >= 0 && layer < 0; i--) {
    members = await readTar(img.layers[i]!);
    if (members.some((m) => m.header.type === 'file' && m.header.name.replace(/^\.?\//, '') === path)) layer = i;
  }
  if (layer < 0) throw new Error(`no layer of ${from} holds ${path}`);
  let content: Buffer = Buffer.alloc(0);
  let before: Buffer = Buffer.alloc(0);
  const edited = members.map((m) => {
    if (m.header.type !== 'file' || m.header.name.replace(/^\.?\//, '') !== path) return m;
    before = m.content;
    content = edit(m.content);
    return { header: m.header, content };
  });
  const newTar = await writeTar(edited);
  const gz = gzipSync(newTar);
  const blobs = join(to, 'blobs', 'sha256');
  const put = async (bytes: Buffer): Promise<string> => {
    const d = sha256(bytes);
    await writeFile(join(blobs, d.slice('sha256:'.length)), bytes);
    return d;
  };
  const old = img.manifest.layers[layer]!;
  await rm(join(blobs, old.digest.slice('sha256:'.length)));
  const layerDigest = await put(gz);
  img.config.rootfs.diff_ids[layer] = sha256(newTar);
  const configBytes = Buffer.from(JSON.stringify(img.config));
  await rm(join(blobs, img.manifest.config.digest.slice('sha256:'.length)));
  img.manifest.layers[layer] = { ...old, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: gz.length };
  img.manifest.config = { ...img.manifest.config, digest: await put(configBytes), size: configBytes.length };
  const manifestBytes = Buffer.from(JSON.stringify(img.manifest));
  await rm(join(blobs, img.manifestDigest.slice('sha256:'.length)));
  const manifestDigest = await put(manifestBytes);
  const indexPath = join(to, 'index.json');
  const index = JSON.parse((await readFile(indexPath)).toString()) as { manifests: Array<{ digest: string; size: number }> };
  index.manifests[0] = { ...index.manifests[0]!, digest: manifestDigest, size: manifestBytes.length };
  await writeFile(indexPath, JSON.stringify(index));
  return { layer, before, content };
}
