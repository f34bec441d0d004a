/**
 * The operations the benchmark times, each run in a fresh child process by stage.ts so its peak
 * RSS is its own. Every stage returns the bytes it processed (for throughput) and may add facts.
 */
import { createHash, createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import { flatten } from '../src/rootfs/index.ts';
import { openSource, openDestination, parseReference, copyImage } from '../src/transports/index.ts';
import { computeMrenclave, loadGramineConstants, type Area } from '../src/measure/index.ts';
import { keyObjectSigner, signSigstruct } from '../src/enclave/index.ts';
import { SecretKey } from '../src/encrypt/index.ts';
import { encryptSelected } from '../src/pipeline/index.ts';
import type { SelectedFile } from '../src/policy/index.ts';
import { silentReporter } from '../src/progress.ts';
import { runCli } from '../src/cli/main.ts';
import type { BuildResult } from '../src/cli/commands/build.ts';
import { encryptPf } from './stages-pf.ts';
import { tarHeader } from './tar.ts';
import { vectorPath } from '../test/helpers/enclave-vectors.ts';

/** What a stage reports besides timing. */
export interface StageOutput {
  bytes: number;
  /** When set, the timed part (setup such as buffer allocation or key generation excluded). */
  seconds?: number;
  extra?: Record<string, unknown>;
}

/** Arguments of a stage, as passed on the child's command line (JSON). */
export type StageArgs = Record<string, string | number | boolean | string[]>;

/** The PAL stand-in from the golden vectors in test/vectors. */
export const LIBPAL = vectorPath('inputs/libpal-standin/libpal.so');

async function drainImage(ref: string): Promise<number> {
  const image = await openSource(parseReference(ref)).open();
  let n = 0;
  try {
    for (const layer of image.layers) for await (const c of await layer.openUncompressed()) n += (c as Buffer).length;
  } finally {
    await image.close();
  }
  return n;
}

/** Bytes SHA-256 consumes for a layout: ECREATE, one EADD per page, 16 EEXTENDs per measured page. */
export function measuredBytes(layout: Area[], pageSize: number): number {
  let n = 64;
  for (const a of layout) {
    const pages = a.size / pageSize;
    n += pages * 64 + (a.measured ? pages * (pageSize / 256) * (64 + 256) : 0);
  }
  return n;
}

function manifestFor(size: string, edmm: boolean): Buffer {
  return Buffer.from(`[sgx]\nenclave_size = "${size}"\nmax_threads = 4\n${edmm ? 'edmm_enable = true\n' : ''}`);
}

/**
 * The build stage's source, outside the clock: the generated image's gzip variant plus a tiny
 * third layer holding an executable /usr/bin/python3 (its Entrypoint; the generated files are all
 * 0644), as an OCI layout `out` whose layer blobs are hard links to the generated ones.
 */
async function buildSource(genDir: string, out: string): Promise<string> {
  const blob = (d: string) => join(genDir, 'blobs', 'sha256', d.slice(7));
  const index = JSON.parse(await readFile(join(genDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'gzip')!;
  const manifest = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as { config: { digest: string }; layers: Array<{ mediaType: string; digest: string; size: number }> };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] }; history: unknown[] };
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'blobs', 'sha256'), { recursive: true });
  for (const l of manifest.layers) await link(blob(l.digest), join(out, 'blobs', 'sha256', l.digest.slice(7)));
  const body = Buffer.from('#!/bin/sh\n');
  const tar = Buffer.concat([tarHeader('usr', 'dir', 0), tarHeader('usr/bin', 'dir', 0), tarHeader('usr/bin/python3', 'file', body.length, 0o755), body, Buffer.alloc(512 - body.length), Buffer.alloc(1024)]);
  const put = async (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(out, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const gz = gzipSync(tar);
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gz)) };
  config.rootfs.diff_ids.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
  config.history.push({ created: '2024-01-01T00:00:00Z', created_by: 'cconv bench: entrypoint' });
  const cfg = await put(Buffer.from(JSON.stringify(config)));
  const m = await put(Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, ...cfg }, layers: [...manifest.layers, layer] })));
  await writeFile(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'gzip' } }] }));
  return `oci:${out}:gzip`;
}

/** The stages by name. */
export const STAGES: Record<string, (a: StageArgs) => Promise<StageOutput>> = {
  /** Baseline: a child that does nothing (its RSS is the floor of every stage). */
  noop: async () => ({ bytes: 0 }),
  /** Protected-file encoding of the image's files, layers not re-read (stages-pf.ts). */
  'encrypt-pf': encryptPf,
  /** Opens the image and drains every layer's uncompressed stream (digests checked). */
  read: async (a) => ({ bytes: await drainImage(String(a.ref)) }),
  /** flatten() with or without sha256 of every file. */
  flatten: async (a) => {
    const image = await openSource(parseReference(String(a.ref))).open();
    try {
      const fs = await flatten(image, { hash: a.hash === true });
      return { bytes: fs.totals.bytes, extra: { files: fs.totals.files, dirs: fs.totals.dirs } };
    } finally {
      await image.close();
    }
  },
  /** The limit: Node zlib gunzip of the layer files in one process, optionally with sha256 of the output. */
  'node-inflate': async (a) => {
    let n = 0;
    for (const file of a.files as string[]) {
      const h = a.sha === true ? createHash('sha256') : undefined;
      // pipeline (not pipe) so a read error reaches the caller instead of crashing the process.
      await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createGunzip({ chunkSize: 128 * 1024 }), async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) {
          h?.update(c);
          n += c.length;
        }
      });
      h?.digest();
    }
    return { bytes: n };
  },
  /** The limit: Node sha256 / aes-128-gcm over one buffer of `mib` MiB. */
  'node-sha256': async (a) => {
    const buf = Buffer.alloc(Number(a.mib) << 20, 0x5a);
    const t = performance.now();
    createHash('sha256').update(buf).digest();
    return { bytes: buf.length, seconds: (performance.now() - t) / 1000 };
  },
  'node-aes': async (a) => {
    const buf = Buffer.alloc(Number(a.mib) << 20, 0x5a);
    const t = performance.now();
    // 4 MiB updates: the output buffers stay small (a single 256 MiB update would time page faults).
    const c = createCipheriv('aes-128-gcm', randomBytes(16), randomBytes(12));
    for (let o = 0; o < buf.length; o += 4 << 20) c.update(buf.subarray(o, o + (4 << 20)));
    c.final();
    return { bytes: buf.length, seconds: (performance.now() - t) / 1000 };
  },
  /**
   * The floor of any protected-files writer on Node's API (from the former bench/pf.ts): one
   * createCipheriv + update + final + getAuthTag per 4 KiB node, with a different key per node.
   */
  'node-aes-per-node': async (a) => {
    const total = Number(a.mib) << 20;
    const node = Buffer.alloc(4096, 1);
    const keys = randomBytes(16 * 4096);
    const iv = Buffer.alloc(12);
    const t = performance.now();
    for (let o = 0, i = 0; o < total; o += 4096, i = (i + 1) % 4096) {
      const c = createCipheriv('aes-128-gcm', keys.subarray(i * 16, i * 16 + 16), iv);
      c.update(node);
      c.final();
      c.getAuthTag();
    }
    return { bytes: total, seconds: (performance.now() - t) / 1000 };
  },
  /** computeMrenclave for an enclave of `size` (4 threads), bytes = what SHA-256 consumes. */
  measure: async (a) => {
    const constants = await loadGramineConstants('1.9');
    const libpal = await readFile(LIBPAL);
    const r = await computeMrenclave({ manifestSgx: manifestFor(String(a.size), a.edmm === true), libpal, constants });
    return { bytes: measuredBytes(r.layout, constants.num('PAGESIZE')), extra: { mrenclave: r.mrenclave } };
  },
  /** `count` signSigstruct calls with a fresh RSA-3072 e=3 key; key generation is not timed. */
  sign: async (a) => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 });
    const t = performance.now();
    const n = Number(a.count ?? 20);
    const attributes = { flags: 4n, xfrm: 3n, xfrmMask: 0xfffffffffff9ff1bn, miscSelect: 0 };
    for (let i = 0; i < n; i++) {
      await signSigstruct({ mrenclave: 'ab'.repeat(32), attributes, isvProdId: 0, isvSvn: 0, date: { year: 2024, month: 1, day: 1 }, signer: keyObjectSigner(privateKey) });
    }
    const seconds = (performance.now() - t) / 1000;
    return { bytes: 0, seconds, extra: { signatures: n, secondsPerSignature: seconds / n } };
  },
  /**
   * What `cconv build --encrypt '/**'` does for encryption: encryptSelected over every regular file
   * of the image `ref` (content re-read from the layers, sha256 checked, protected files written
   * under `out`, removed afterwards). Timed: encryptSelected only (flatten + hash before it is the
   * flatten-hash stage). extra: files and files per second.
   */
  encrypt: async (a) => {
    const out = String(a.out);
    await mkdir(out, { recursive: true });
    const image = await openSource(parseReference(String(a.ref))).open();
    const key = new SecretKey(randomBytes(16));
    try {
      const rootfs = await flatten(image, { hash: true });
      const selected: SelectedFile[] = [];
      for (const e of rootfs.entries()) {
        if (e.type === 'file') selected.push({ path: `/${e.path}`, uri: `file:/${e.path}`, sha256: e.sha256 ?? '', size: e.size });
      }
      const t = performance.now();
      const enc = await encryptSelected(rootfs, selected, key, { tmpDir: out, report: silentReporter });
      const seconds = (performance.now() - t) / 1000;
      await enc.close();
      return { bytes: enc.bytes, seconds, extra: { files: enc.files.length, filesPerSecond: enc.files.length / seconds } };
    } finally {
      key.destroy();
      await image.close();
      await rm(out, { recursive: true, force: true });
    }
  },
  /**
   * The whole `cconv build` of the generated image in `dir` (see buildSource; in-process CLI: flatten + hash, policy, measure, sign,
   * assemble, write) with the runtime image `runtime` and the signing key `key`, into the OCI
   * layout `out` (removed afterwards, outside the clock). `bytes` is the image's content size
   * (passed in). extra: the build's own stage timings (ms).
   */
  build: async (a) => {
    const out = String(a.out);
    await rm(out, { recursive: true, force: true });
    const ref = await buildSource(String(a.dir), `${out}-src`);
    let stdout = '';
    let stderr = '';
    const argv = ['build', ref, '--runtime-image', String(a.runtime), '--output', `oci:${out}:bench`, '--key', String(a.key), '--json', '--quiet', ...((a.extra as string[] | undefined) ?? [])];
    const t = performance.now();
    const status = await runCli(argv, {
      stdout: (x) => void (stdout += x),
      stderr: (x) => void (stderr += x),
      isTTY: false,
      env: { ...process.env, CI: 'true', SOURCE_DATE_EPOCH: '1767225600' },
      readStdin: async () => Buffer.alloc(0),
    });
    const seconds = (performance.now() - t) / 1000;
    await rm(out, { recursive: true, force: true });
    await rm(`${out}-src`, { recursive: true, force: true });
    if (status !== 0) throw new Error(`cconv build exited with ${status}: ${stderr.trim()}`);
    const r = JSON.parse(stdout) as BuildResult;
    return { bytes: Number(a.bytes), seconds, extra: { digest: r.destination.digest, files: r.files, timings: r.timings } };
  },
  /** Pushes the image to the local test registry (a fresh repository `dest`-RANDOM, so every blob is uploaded). */
  push: async (a) => {
    const src = openSource(parseReference(String(a.ref)));
    const dst = openDestination(parseReference(`${String(a.dest)}-${randomBytes(4).toString('hex')}:1`), { registry: { caFile: String(a.caFile) } });
    const r = await copyImage(src, dst);
    return { bytes: Number(a.bytes), extra: { copied: r.copied.length } };
  },
  /**
   * Pulls `ref` from the local test registry (CA `caFile`) into a fresh OCI layout `out` (removed
   * before and after, outside the clock). Timed: copyImage only. `bytes` is the blobs' size.
   */
  pull: async (a) => {
    const out = String(a.out);
    await rm(out, { recursive: true, force: true });
    const src = openSource(parseReference(String(a.ref)), { registry: { caFile: String(a.caFile) } });
    const dst = openDestination(parseReference(`oci:${out}:x`));
    try {
      const t = performance.now();
      const r = await copyImage(src, dst);
      return { bytes: Number(a.bytes), seconds: (performance.now() - t) / 1000, extra: { copied: r.copied.length } };
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  },
};
