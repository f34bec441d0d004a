/**
 * Generates a benchmark image on disk: each planned layer is streamed once as a tar and fanned out
 * to the raw tar file (for the sha256sum limit), Node zlib gzip level 6 and the `zstd` CLI (level
 * 3), then the gzip and zstd variants are written as one OCI layout with tags `gzip` and `zstd`.
 * Deterministic: the same spec gives the same blobs and manifest digests.
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { layerTar } from './tar.ts';
import { planLayers, type ImageSpec } from './tree.ts';

/** One generated layer's files and digests (hex sha256 without the prefix). */
export interface GeneratedLayer {
  tar: string;
  gz: string;
  zst: string;
  tarBytes: number;
  gzBytes: number;
  zstBytes: number;
  diffId: string;
  gzDigest: string;
  zstDigest: string;
}

/** A generated image: the OCI layout `dir` holds tags `gzip` and `zstd`. */
export interface GeneratedImage {
  spec: ImageSpec;
  dir: string;
  layers: GeneratedLayer[];
  /** Sum of file sizes and number of regular files. */
  contentBytes: number;
  files: number;
  /** Seconds spent generating. */
  seconds: number;
}

function write(w: Writable, chunk: Buffer): Promise<void> | undefined {
  return w.write(chunk) ? undefined : new Promise((res) => w.once('drain', res));
}

function closeFile(ws: WriteStream): Promise<void> {
  return new Promise((res, rej) => {
    ws.on('error', rej);
    ws.end(() => res());
  });
}

/** Writes `source`'s output to `file`, hashing it; resolves with [bytes, hex] when the file is closed. */
function sink(source: NodeJS.ReadableStream, file: string): Promise<[number, string]> {
  const ws = createWriteStream(file);
  const h: Hash = createHash('sha256');
  let n = 0;
  return new Promise((res, rej) => {
    source.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
      if (!ws.write(c)) {
        source.pause();
        ws.once('drain', () => source.resume());
      }
    });
    source.on('error', rej);
    ws.on('error', rej);
    source.on('end', () => ws.end(() => res([n, h.digest('hex')])));
  });
}

async function generateLayer(layer: Parameters<typeof layerTar>[0], base: string): Promise<GeneratedLayer> {
  const tar = `${base}.tar`, gz = `${base}.tar.gz`, zst = `${base}.tar.zst`;
  const raw = createWriteStream(tar);
  const gzip = createGzip({ level: 6 });
  const zstd = spawn('zstd', ['-q', '-3', '-T1', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const zstdExit = new Promise<void>((res, rej) =>
    zstd.on('close', (code) => (code === 0 ? res() : rej(new Error(`zstd exited with ${code}`)))),
  );
  const gzDone = sink(gzip, gz);
  const zstDone = sink(zstd.stdout, zst);
  const diff = createHash('sha256');
  let tarBytes = 0;
  for (const chunk of layerTar(layer)) {
    diff.update(chunk);
    tarBytes += chunk.length;
    const waits = [write(raw, chunk), write(gzip, chunk), write(zstd.stdin, chunk)].filter(Boolean);
    if (waits.length) await Promise.all(waits);
  }
  gzip.end();
  zstd.stdin.end();
  await closeFile(raw);
  const [[gzBytes, gzDigest], [zstBytes, zstDigest]] = await Promise.all([gzDone, zstDone, zstdExit]);
  return { tar, gz, zst, tarBytes, gzBytes, zstBytes, diffId: diff.digest('hex'), gzDigest, zstDigest };
}

async function putBlob(dir: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(dir, 'blobs', 'sha256', hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Generates `spec` into `dir` (created); the layer blobs are moved into the layout's blob store. */
export async function generateImage(spec: ImageSpec, dir: string): Promise<GeneratedImage> {
  const t0 = performance.now();
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const planned = planLayers(spec);
  const layers: GeneratedLayer[] = [];
  for (const [i, layer] of planned.entries()) {
    const g = await generateLayer(layer, join(dir, `layer${i}`));
    // The compressed files become the blobs (one copy on disk); the raw tar stays for the limits.
    const gzBlob = join(dir, 'blobs', 'sha256', g.gzDigest);
    const zstBlob = join(dir, 'blobs', 'sha256', g.zstDigest);
    await rename(g.gz, gzBlob);
    await rename(g.zst, zstBlob);
    layers.push({ ...g, gz: gzBlob, zst: zstBlob });
  }
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['/usr/bin/python3'], Cmd: ['-c', 'print(1)'], Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${l.diffId}`) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'cconv bench generator' })),
  };
  const cfg = await putBlob(dir, Buffer.from(JSON.stringify(config)));
  const manifests = [];
  for (const tag of ['gzip', 'zstd'] as const) {
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
      layers: layers.map((l) => ({
        mediaType: `application/vnd.oci.image.layer.v1.tar+${tag}`,
        digest: `sha256:${tag === 'gzip' ? l.gzDigest : l.zstDigest}`,
        size: tag === 'gzip' ? l.gzBytes : l.zstBytes,
      })),
    };
    const m = await putBlob(dir, Buffer.from(JSON.stringify(manifest)));
    manifests.push({ mediaType: manifest.mediaType, ...m, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const files = planned.reduce((n, l) => n + l.files.length, 0);
  const contentBytes = planned.reduce((n, l) => n + l.files.reduce((m, f) => m + f.size, 0), 0);
  const image: GeneratedImage = { spec, dir, layers, contentBytes, files, seconds: (performance.now() - t0) / 1000 };
  await writeFile(join(dir, 'generated.json'), JSON.stringify(image, null, 2));
  return image;
}

/** A previously generated image in `dir` when its spec matches (for --keep), else undefined. */
export async function loadGenerated(spec: ImageSpec, dir: string): Promise<GeneratedImage | undefined> {
  try {
    const g = JSON.parse(await readFile(join(dir, 'generated.json'), 'utf8')) as GeneratedImage;
    return JSON.stringify(g.spec) === JSON.stringify(spec) ? g : undefined;
  } catch {
    return undefined;
  }
}
