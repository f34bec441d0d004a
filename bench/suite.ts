/**
 * The benchmark suite: generates the inputs, runs every stage and every limit `runs` times (each
 * stage in a fresh child), and returns the results. Prints nothing itself: progress goes to `log`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateImage, loadGenerated, type GeneratedImage } from './gen.ts';
import { machineFacts, opensslSpeed, type MachineFacts } from './machine.ts';
import { runShell, runStage, type Sample } from './runner.ts';
import { measureStartup, startupLines, type StartupResult } from './startup.ts';
import { summarize, type Measurement } from './stats.ts';
import { IMAGE_SPECS } from './tree.ts';
import { startRegistry, type TestRegistry } from '../test/helpers/registry.ts';
import { ensureFixtures } from '../fixtures/build.ts';
import { runCli } from '../src/cli/main.ts';
import { copyImage, openDestination, openSource, parseReference } from '../src/transports/index.ts';

/** Options of the suite (see run.ts for the command line). */
export interface SuiteOptions {
  images: string[];
  enclaves: Array<{ size: string; edmm: boolean }>;
  runs: number;
  work: string;
  /** Keep generated inputs in `work` and reuse them next time. */
  keep: boolean;
  push: boolean;
  /** Buffer size of the in-process sha256/aes limits, MiB. */
  bufferMiB: number;
  opensslSeconds: number;
  /** Interleaved rounds of the startup stage (bench/startup.ts). */
  startupPairs: number;
  log: (line: string) => void;
}

/** Everything one run of the suite measured. */
export interface SuiteResults {
  machine: MachineFacts;
  options: { images: string[]; enclaves: string[]; runs: number; push: boolean };
  images: Array<{ name: string; files: number; contentBytes: number; tarBytes: number; gzipBytes: number; zstdBytes: number; generateSeconds: number }>;
  measurements: Measurement[];
  /** Issue 15: `cconv --version` against `node -e 0`; absent when a command failed (e.g. no dist/). */
  startup?: StartupResult;
  seconds: number;
}

/** The default enclave sizes; 1024G (Gramine has no 'T' suffix) with EDMM. */
export const DEFAULT_ENCLAVES = [
  { size: '256M', edmm: false },
  { size: '4G', edmm: false },
  { size: '64G', edmm: false },
  { size: '1024G', edmm: true },
];

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the suite. */
export async function runSuite(o: SuiteOptions): Promise<SuiteResults> {
  const t0 = performance.now();
  const measurements: Measurement[] = [];
  const measure = async (m: Omit<Measurement, 'samples' | 'summary'>, once: () => Promise<Sample>, runs = o.runs) => {
    // Up to `runs` successful runs; a failure is retried once (a busy machine can kill a run), a
    // second failure ends the measurement (a real failure repeats: do not spend the budget on it).
    const samples: Sample[] = [];
    let ok = 0, failures = 0;
    while (ok < runs && failures < 2) {
      const s = await once();
      samples.push(s);
      if (s.error === undefined) ok++;
      else failures++;
    }
    const rec: Measurement = { ...m, samples, summary: summarize(samples) };
    const sum = rec.summary;
    const fps = sum ? samples.find((x) => x.error === undefined && x.seconds === sum.seconds.median)?.extra?.filesPerSecond : undefined;
    o.log(`${m.id.padEnd(44)} ${sum ? `${sum.seconds.median.toFixed(3)} s${sum.mbPerSecond ? ` ${sum.mbPerSecond.toFixed(0)} MB/s` : ''}${typeof fps === 'number' ? ` ${fps.toFixed(0)} files/s` : ''}${sum.maxRssMiB ? ` rss ${sum.maxRssMiB.toFixed(0)} MiB` : ''}` : `FAILED ${samples.at(-1)?.error}`}`);
    measurements.push(rec);
    return rec;
  };
  const stage = (name: string, args: Record<string, unknown>, timeoutS: number) => () => runStage(name, args, timeoutS * 1000);
  const shell = (script: string, bytes: number, timeoutS: number) => () => runShell(script, bytes, timeoutS * 1000);

  const machine = await machineFacts();
  await mkdir(o.work, { recursive: true });
  // The build stage's inputs, made once on first use: the stand-in runtime image and a signing key.
  let buildIn: Promise<{ runtime: string; key: string; dataKey: string }> | undefined;
  const buildInputs = () => (buildIn ??= (async () => {
    const runtime = `oci:${(await ensureFixtures()).get('gramine-runtime').paths.oci!}`;
    const key = join(o.work, 'enclave-key.pem');
    await rm(key, { force: true });
    const dataKey = join(o.work, 'data-key.bin');
    await writeFile(dataKey, randomBytes(16), { mode: 0o600 });
    let err = '';
    const status = await runCli(['keygen', key], { stdout: () => {}, stderr: (x) => void (err += x), isTTY: false, env: { CI: 'true' }, readStdin: async () => Buffer.alloc(0) });
    if (status !== 0) throw new Error(`cconv keygen failed: ${err.trim()}`);
    return { runtime, key, dataKey };
  })());

  // Start-up first, before the heavy stages heat the machine: whole processes, interleaved.
  const startup = await measureStartup(fileURLToPath(new URL('../', import.meta.url)), o.startupPairs);
  measurements.push(...startup.measurements);
  const startupError = startup.measurements.flatMap((m) => m.samples).find((s) => s.error !== undefined)?.error;
  for (const line of startup.result ? startupLines(startup.result) : [`startup FAILED ${startupError}`]) o.log(line);

  // Limits that need no inputs.
  await measure({ id: 'baseline/noop', kind: 'stage', label: 'empty child (RSS floor)' }, stage('noop', {}, 60));
  await measure({ id: 'limit/node-sha256', kind: 'limit', label: `Node sha256, one ${o.bufferMiB} MiB buffer` }, stage('node-sha256', { mib: o.bufferMiB }, 120));
  await measure({ id: 'limit/node-aes-128-gcm', kind: 'limit', label: `Node aes-128-gcm, one ${o.bufferMiB} MiB buffer` }, stage('node-aes', { mib: o.bufferMiB }, 120));
  await measure({ id: 'limit/node-aes-per-node', kind: 'limit', label: `Node aes-128-gcm, fresh cipher per 4 KiB node, ${o.bufferMiB} MiB` }, stage('node-aes-per-node', { mib: o.bufferMiB }, 120));
  await measure({ id: 'limit/openssl-sha256', kind: 'limit', label: 'openssl speed -evp sha256 (1 core)' }, () => opensslSpeed('sha256', o.opensslSeconds));
  await measure({ id: 'limit/openssl-aes-128-gcm', kind: 'limit', label: 'openssl speed -evp aes-128-gcm (1 core)' }, () => opensslSpeed('aes-128-gcm', o.opensslSeconds));

  // Measurement and signing.
  for (const e of o.enclaves) {
    const name = `${e.size}${e.edmm ? '-edmm' : ''}`;
    await measure({ id: `measure/${name}`, kind: 'stage', label: 'computeMrenclave (4 threads)', enclave: name }, stage('measure', e, 600));
  }
  await measure({ id: 'sign', kind: 'stage', label: 'signSigstruct, RSA-3072 (20 signatures)' }, stage('sign', { count: 20 }, 120));

  let registry: TestRegistry | undefined;
  if (o.push) {
    try {
      registry = await startRegistry({ auth: 'none' });
    } catch (err) {
      o.log(`push skipped: cannot start the local registry (${(err as Error).message})`);
    }
  }
  const images: SuiteResults['images'] = [];
  try {
    for (const name of o.images) {
      const spec = IMAGE_SPECS[name]!;
      const dir = join(o.work, name);
      let g: GeneratedImage | undefined = o.keep ? await loadGenerated(spec, dir) : undefined;
      if (!g) {
        await rm(dir, { recursive: true, force: true });
        o.log(`generating ${name} (${spec.bytes / 1e6} MB, ${spec.files} files)...`);
        g = await generateImage(spec, dir);
      }
      const tarBytes = g.layers.reduce((n, l) => n + l.tarBytes, 0);
      images.push({
        name, files: g.files, contentBytes: g.contentBytes, tarBytes,
        gzipBytes: g.layers.reduce((n, l) => n + l.gzBytes, 0), zstdBytes: g.layers.reduce((n, l) => n + l.zstBytes, 0), generateSeconds: g.seconds,
      });
      const gb = Math.max(1, tarBytes / 1e9);
      const tmo = Math.round(120 * gb);
      const gz = g.layers.map((l) => q(l.gz)).join(' ');
      const zst = g.layers.map((l) => q(l.zst)).join(' ');
      const tars = g.layers.map((l) => q(l.tar)).join(' ');
      const at = { image: name };
      for (const c of ['gzip', 'zstd'] as const) {
        const ref = `oci:${dir}:${c}`;
        const m = { ...at, compression: c };
        await measure({ id: `read/${name}/${c}`, kind: 'stage', label: 'read: decompress + verify digests', ...m }, stage('read', { ref }, tmo));
        await measure({ id: `flatten/${name}/${c}`, kind: 'stage', label: 'flatten, no hash', ...m }, stage('flatten', { ref, hash: false }, tmo));
        await measure({ id: `flatten-hash/${name}/${c}`, kind: 'stage', label: 'flatten + sha256 of every file', ...m }, stage('flatten', { ref, hash: true }, tmo));
      }
      const gzm = { ...at, compression: 'gzip' as const };
      const zsm = { ...at, compression: 'zstd' as const };
      await measure({ id: `limit/node-inflate/${name}`, kind: 'limit', label: 'Node zlib gunzip, one process', ...gzm }, stage('node-inflate', { files: g.layers.map((l) => l.gz), sha: false }, tmo));
      await measure({ id: `limit/node-inflate-sha256/${name}`, kind: 'limit', label: 'Node zlib gunzip + sha256, one process', ...gzm }, stage('node-inflate', { files: g.layers.map((l) => l.gz), sha: true }, tmo));
      await measure({ id: `limit/igzip/${name}`, kind: 'limit', label: 'igzip -dc > /dev/null', ...gzm }, shell(`igzip -dc ${gz} > /dev/null`, tarBytes, tmo));
      await measure({ id: `limit/igzip-sha256sum/${name}`, kind: 'limit', label: 'igzip -dc | sha256sum', ...gzm }, shell(`igzip -dc ${gz} | sha256sum`, tarBytes, tmo));
      await measure({ id: `limit/igzip-openssl/${name}`, kind: 'limit', label: 'igzip -dc | openssl sha256', ...gzm }, shell(`igzip -dc ${gz} | openssl sha256`, tarBytes, tmo));
      await measure({ id: `limit/zstd/${name}`, kind: 'limit', label: 'zstd -dc > /dev/null', ...zsm }, shell(`zstd -q -dc ${zst} > /dev/null`, tarBytes, tmo));
      await measure({ id: `limit/zstd-sha256sum/${name}`, kind: 'limit', label: 'zstd -dc | sha256sum', ...zsm }, shell(`zstd -q -dc ${zst} | sha256sum`, tarBytes, tmo));
      await measure({ id: `limit/sha256sum/${name}`, kind: 'limit', label: 'sha256sum of the uncompressed tars', ...at }, shell(`cat ${tars} | sha256sum`, tarBytes, tmo));

      // Encryption alone: the protected-file format over the image's file sizes (issue 5's target).
      await measure({ id: `encrypt-pf/${name}`, kind: 'stage', label: `protected-file encryption of ${g.files} files, memory to /dev/null`, ...gzm }, stage('encrypt-pf', { ref: `oci:${dir}:gzip` }, tmo * 2));
      // Encryption of every file as cconv build does it (encryptSelected, contents from the layers).
      await measure({ id: `encrypt/${name}`, kind: 'stage', label: `encryptSelected, every file (${g.files} files)`, ...gzm }, stage('encrypt', { ref: `oci:${dir}:gzip`, out: join(o.work, `${name}-enc`) }, tmo * 2));
      // The whole cconv build (default policy: nothing encrypted), OCI layout to OCI layout.
      const build = await buildInputs();
      await measure({ id: `build/${name}`, kind: 'stage', label: 'cconv build, oci -> oci (default policy)', ...gzm }, stage('build', { dir, runtime: build.runtime, key: build.key, out: join(o.work, `${name}-build`), bytes: g.contentBytes }, tmo * 2));
      // The same build encrypting every file under /usr/lib (all but the entrypoint): a second pass
      // over the layers to encrypt, the layers rewritten without them, the ciphertexts' layer.
      const encryptAll = ['--encrypt', '/usr/lib/**', '--data-key', build.dataKey];
      await measure({ id: `build-encrypt/${name}`, kind: 'stage', label: "cconv build --encrypt '/usr/lib/**', oci -> oci", ...gzm }, stage('build', { dir, runtime: build.runtime, key: build.key, out: join(o.work, `${name}-build`), bytes: g.contentBytes, extra: encryptAll }, tmo * 4));

      if (registry) {
        const r = registry;
        const bytes = images.at(-1)!.gzipBytes;
        await measure({ id: `push/${name}`, kind: 'stage', label: 'push (cconv registry transport)', ...gzm }, stage('push', { ref: `oci:${dir}:gzip`, dest: `docker://${r.host}/bench/${name}-cconv`, caFile: r.caFile, bytes }, tmo));
        // skopeo remembers where it pushed blobs (its blob-info cache) and mounts them on later runs
        // to the same registry: each skopeo run gets a registry of its own (started outside the clock).
        await measure({ id: `limit/skopeo-push/${name}`, kind: 'limit', label: 'skopeo copy to the registry', ...gzm }, async () => {
          const fresh = await startRegistry({ auth: 'none' });
          try {
            return await runShell(`skopeo copy -q --insecure-policy --dest-cert-dir ${q(fresh.certDir)} oci:${q(dir)}:gzip docker://${fresh.host}/bench/${name}-skopeo:1`, bytes, tmo * 1000);
          } finally {
            await fresh.stop();
          }
        });
        // Pull: the image is pushed once to a fixed repository outside the clock, then copied into
        // a fresh OCI layout per run (created and removed outside the clock), by cconv and by skopeo.
        const pulled = `docker://${r.host}/bench/${name}-cconv:1`;
        await copyImage(openSource(parseReference(`oci:${dir}:gzip`)), openDestination(parseReference(pulled), { registry: { caFile: r.caFile } }));
        const pullOut = join(o.work, `${name}-pull`);
        await measure({ id: `pull/${name}`, kind: 'stage', label: 'pull (cconv registry transport -> OCI layout)', ...gzm }, stage('pull', { ref: pulled, out: pullOut, caFile: r.caFile, bytes }, tmo));
        await measure({ id: `limit/skopeo-pull/${name}`, kind: 'limit', label: 'skopeo copy from the registry to an OCI layout', ...gzm }, async () => {
          await rm(pullOut, { recursive: true, force: true });
          try {
            return await runShell(`skopeo copy -q --insecure-policy --src-cert-dir ${q(r.certDir)} ${pulled} oci:${q(pullOut)}:x`, bytes, tmo * 1000);
          } finally {
            await rm(pullOut, { recursive: true, force: true });
          }
        });
      }
      if (!o.keep) await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await registry?.stop();
  }
  machine.loadAverage.end = loadavg()[0]!;
  return {
    machine,
    options: { images: o.images, enclaves: o.enclaves.map((e) => `${e.size}${e.edmm ? '-edmm' : ''}`), runs: o.runs, push: registry !== undefined },
    images,
    measurements,
    ...(startup.result ? { startup: startup.result } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}
