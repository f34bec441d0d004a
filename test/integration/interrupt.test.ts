/**
 * Interrupts (issue 17, defect 3): `cconv build` and `cconv copy` as whole processes
 * (bin/cconv.js, what a user runs: `npm run build` first, or it runs the sources through tsx),
 * sent a real SIGINT, SIGTERM or SIGHUP in the middle of a stage. The stage is found by its plain
 * progress line (`CI=true`: `[cconv] TITLE...` on stderr when it starts) and the test checks that
 * the stage was the one cut short (`TITLE: failed after`). Then: the exit status is 128+N (130,
 * 143, 129), an OCI layout that existed is exactly as before (same index.json bytes, same files:
 * no new blob, no `*.tmp-*`), a docker-archive destination and its `FILE.tmp-*` do not exist,
 * and the private `$TMPDIR` of the run holds no `cconv-*` entry (spools, cconv-encrypt-*,
 * cconv-assemble-*). No timing is asserted beyond a generous bound on the exit after the signal.
 *
 * One run is under a real pseudo-terminal (util-linux `script`), interrupted by typing Ctrl-C:
 * the listr2 task list is drawn then, and the terminal sends SIGINT to the whole foreground
 * process group (the zstd children too).
 *
 * The source is the app-glibc fixture plus three layers of 40 MiB of compressible data (zstd -1,
 * decoded by the zstd CLI as a child process), made at test time, so that flatten, encryption (the
 * native encoder on the thread pool) and the write each take long enough to be signalled in.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { readLayoutImage } from '../helpers/blob-scan.ts';
import { cli } from '../helpers/cli.ts';
import { buildTar, sha256, writeDockerArchive, writeOciLayout, type BuiltLayer } from '../helpers/oci-builder.ts';

const BIN = fileURLToPath(new URL('../../bin/cconv.js', import.meta.url));
const DATA_LAYERS = 3;
const DATA_BYTES = 40 << 20;
/** Generous: the stage stops at its next read or write, then cleans up. */
const EXIT_BOUND_MS = 30_000;

let fixtures: FixtureSet;
let work: string;
let key: string;
let dataKey: string;
let sourceDir: string;
let sourceArchive: string;
let runtime: string;

/** 40 MiB of random bytes, each < 64: compresses to about 3/4 and takes real work to decode. */
function dataBytes(): Buffer {
  const b = randomBytes(DATA_BYTES);
  for (let i = 0; i < b.length; i++) b[i]! &= 0x3f;
  return b;
}

async function dataLayer(i: number): Promise<BuiltLayer> {
  const tar = await buildTar([{ name: 'data/', type: 'directory' }, { name: `data/blob-${i}.bin`, content: dataBytes() }]);
  const bytes = execFileSync('zstd', ['-q', '-1', '-c'], { input: tar, maxBuffer: 1 << 28 });
  return { bytes, tar, digest: sha256(bytes), diffId: sha256(tar), size: bytes.length, compression: 'zstd', mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' } as BuiltLayer;
}

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-interrupt-');
  runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
  key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
  dataKey = join(work, 'data.key');
  await writeFile(dataKey, randomBytes(16), { mode: 0o600 });

  const appDir = fixtures.path('app-glibc', 'oci');
  const app = await readLayoutImage(appDir);
  const layers: BuiltLayer[] = [];
  for (const [i, l] of app.manifest.layers.entries()) {
    const bytes = await readFile(join(appDir, 'blobs', 'sha256', l.digest.slice(7)));
    layers.push({ bytes, tar: gunzipSync(bytes), digest: l.digest, diffId: app.config.rootfs.diff_ids[i], size: l.size, compression: 'gzip', mediaType: l.mediaType } as BuiltLayer);
  }
  for (let i = 0; i < DATA_LAYERS; i++) layers.push(await dataLayer(i));
  const spec = { layers, config: { config: app.config.config }, tag: 'latest' };
  sourceDir = join(work, 'source');
  await writeOciLayout(sourceDir, [spec]);
  sourceArchive = join(work, 'source.tar');
  await writeDockerArchive(sourceArchive, [{ ...spec, tag: 'cconv-test/big:latest' }]);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Interrupted {
  /** Exit code, or null when the process was killed by a signal. */
  status: number | null;
  killedBy: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From the signal to the exit. */
  exitMs: number;
}

/** When to send the signal: once the `nth` (default 1st) stderr line containing `line` is read and then `until()` (polled every 10 ms) holds. */
interface Trigger {
  line: string;
  nth?: number;
  until?: () => Promise<boolean>;
}

/**
 * Runs `node bin/cconv.js ...args` with CI=true and TMPDIR=`tmp`; sends `signal` at `trigger`.
 * Rejects if the process ends before (or takes over 90 s).
 */
function interrupt(args: string[], tmp: string, trigger: Trigger, signal: NodeJS.Signals): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true', TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let seen = 0;
    let armed = false;
    let sentAt: number | undefined;
    let exited = false;
    const fire = async (): Promise<void> => {
      while (!exited && trigger.until !== undefined && !(await trigger.until())) await new Promise((r) => setTimeout(r, 10));
      if (exited) return;
      sentAt = Date.now();
      child.kill(signal);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!armed && line.includes(trigger.line) && ++seen === (trigger.nth ?? 1)) {
          armed = true;
          fire().catch(reject);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code, killedBy) => {
      exited = true;
      clearTimeout(timer);
      if (sentAt === undefined) reject(new Error(`the process ended (${code ?? killedBy}) before the trigger ${JSON.stringify(trigger.line)}:\n${stderr}`));
      else resolve({ status: code, killedBy, stdout, stderr, exitMs: Date.now() - sentAt });
    });
  });
}

/** Every path under `dir` (relative, sorted) with its size; directories end with '/'. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = relative(dir, join(e.parentPath, e.name));
    out.push(e.isDirectory() ? `${path}/` : `${path} ${(await stat(join(dir, path))).size}`);
  }
  return out.sort();
}

/** An OCI layout that holds an image before the run: its index.json bytes and its files. */
interface Layout {
  dir: string;
  index: Buffer;
  files: string[];
}

/** A fresh copy of the hello fixture's OCI layout. */
async function existingLayout(name: string): Promise<Layout> {
  const dir = join(work, name);
  await cp(fixtures.path('hello', 'oci'), dir, { recursive: true });
  return { dir, index: await readFile(join(dir, 'index.json')), files: await tree(dir) };
}

/** The layout is exactly as before the run: same index.json bytes, same files and sizes. */
async function unchanged(t: ExecutionContext, layout: Layout): Promise<void> {
  t.deepEqual(await readFile(join(layout.dir, 'index.json')), layout.index);
  t.deepEqual(await tree(layout.dir), layout.files);
}

/**
 * The run stopped as a signalled one must: `status`, the stage `stage` cut short, E_ABORTED naming
 * `signal`, an exit soon after, and no `cconv-*` entry left in its TMPDIR `tmp`.
 */
async function stopped(t: ExecutionContext, run: Interrupted, tmp: string, expected: { status: number; signal: NodeJS.Signals; stage: string }): Promise<void> {
  t.is(run.status, expected.status, run.stderr);
  t.true(run.stderr.includes(`[cconv] ${expected.stage}: failed after`), run.stderr);
  t.true(run.stderr.includes(`cconv: error E_ABORTED: interrupted by ${expected.signal}\n`), run.stderr);
  t.true(run.exitMs < EXIT_BOUND_MS, `${run.exitMs} ms`);
  t.deepEqual(await cconvEntries(tmp), []);
}

/** `cconv build` of the big source into `output`; with `encrypt`, /data/** encrypted under the data key. */
const buildArgs = (output: string, encrypt = false): string[] =>
  ['build', `oci:${sourceDir}`, '--runtime-image', runtime, '--key', key, ...(encrypt ? ['--encrypt', '/data/**', '--data-key', dataKey] : []), '--output', output];

const cconvEntries = async (tmp: string): Promise<string[]> => (await readdir(tmp)).filter((n) => n.startsWith('cconv-'));

async function privateTmp(name: string): Promise<string> {
  const tmp = join(work, `tmp-${name}`);
  await mkdir(tmp);
  return tmp;
}


/** True once `dir` holds a file whose name passes `test`, of at least `bytes` bytes (searched recursively). */
async function holds(dir: string, test: (name: string) => boolean, bytes = 1): Promise<boolean> {
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (e.isFile() && test(e.name) && (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size >= bytes) return true;
  }
  return false;
}

/** True while a blob is being written into `layout` (a `*.tmp-*` file there holds 1 MiB or more). */
const writingBlob = (layout: Layout): Promise<boolean> => holds(join(layout.dir, 'blobs'), (name) => name.includes('.tmp-'), 1 << 20);

test.serial('SIGINT in the middle of flatten, building into an existing OCI layout: exit 130, the layout as it was, no temp dirs', async (t) => {
  const dest = await existingLayout('flatten-dest');
  const tmp = await privateTmp('flatten');
  // No encryption: each source layer is copied into the layout as soon as flatten has read it, so
  // blobs are being written when the signal comes. Flatten reads the runtime first, the source second.
  const run = await interrupt(buildArgs(`oci:${dest.dir}:app`), tmp, {
    line: '[cconv] Flatten root filesystem...',
    nth: 2,
    until: () => writingBlob(dest),
  }, 'SIGINT');
  await stopped(t, run, tmp, { status: 130, signal: 'SIGINT', stage: 'Flatten root filesystem' });
  t.is(run.stdout, '');
  await unchanged(t, dest);
});

test.serial('SIGTERM in the middle of the write to a docker-archive, with encryption: exit 143, no archive, no FILE.tmp-*, no temp dirs', async (t) => {
  const out = join(work, 'write-dest', 'app.tar');
  await mkdir(join(work, 'write-dest'));
  const tmp = await privateTmp('write');
  const run = await interrupt(buildArgs(`docker-archive:${out}:app:v1`, true), tmp, {
    line: '[cconv] Writing the output image...',
    until: () => holds(join(work, 'write-dest'), (name) => name.startsWith('app.tar.tmp-'), 1 << 20),
  }, 'SIGTERM');
  await stopped(t, run, tmp, { status: 143, signal: 'SIGTERM', stage: 'Writing the output image' });
  t.deepEqual(await readdir(join(work, 'write-dest')), []); // neither app.tar nor app.tar.tmp-*
});

test.serial('SIGTERM in the middle of assemble, with encryption, into an existing OCI layout: exit 143, the layout as it was, no temp dirs', async (t) => {
  const dest = await existingLayout('assemble-dest');
  const tmp = await privateTmp('assemble');
  const run = await interrupt(buildArgs(`oci:${dest.dir}:app`, true), tmp, {
    line: '[cconv] Assembling the output image...',
    until: () => holds(tmp, (name) => name.startsWith('layer-'), 1 << 20), // an output layer is being written
  }, 'SIGTERM');
  await stopped(t, run, tmp, { status: 143, signal: 'SIGTERM', stage: 'Assembling the output image' });
  await unchanged(t, dest);
});

test.serial('SIGHUP in the middle of encryption (the native encoder on the thread pool), to a docker-archive: exit 129, nothing left', async (t) => {
  const out = join(work, 'encrypt-dest', 'app.tar');
  await mkdir(join(work, 'encrypt-dest'));
  const tmp = await privateTmp('encrypt');
  const run = await interrupt(buildArgs(`docker-archive:${out}`, true), tmp, {
    line: '[cconv] Encrypting 3 files...',
    until: () => holds(tmp, (name) => name === 'ciphertexts.pf'),
  }, 'SIGHUP');
  await stopped(t, run, tmp, { status: 129, signal: 'SIGHUP', stage: 'Encrypting 3 files' });
  t.deepEqual(await readdir(join(work, 'encrypt-dest')), []);
});

test.serial('Ctrl-C typed in a terminal while flatten writes into an existing OCI layout: exit 130, the layout as it was, no temp dirs', async (t) => {
  const dest = await existingLayout('tty-dest');
  const tmp = await privateTmp('tty');
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', TMPDIR: tmp };
  delete env.CI; // CI selects plain lines; here the task list is drawn
  const quote = (x: string): string => `'${x.replaceAll("'", `'\\''`)}'`;
  const cmd = `stty cols 100 rows 40; exec ${quote(process.execPath)} ${quote(BIN)} ${buildArgs(`oci:${dest.dir}:app`).map(quote).join(' ')}`;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let screen = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (x: string) => {
    screen += x;
    if (typed || !screen.includes('Reading and hashing the image')) return;
    typed = true;
    void (async () => {
      while (!(await writingBlob(dest))) await new Promise((r) => setTimeout(r, 10));
      child.stdin.write('\x03'); // the terminal turns it into SIGINT for the foreground process group
    })();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [status] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  const text = screen.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g, '').replaceAll('\r', '');
  t.true(typed, text);
  t.is(status, 130, text);
  t.regex(text, /cconv: error E_ABORTED: interrupted by SIGINT\n/);
  await unchanged(t, dest);
  t.deepEqual(await cconvEntries(tmp), []);
});

test.serial('cconv copy from a docker-archive into an existing OCI layout, SIGTERM while blobs are copied: exit 143, the layout as it was, no spool left', async (t) => {
  const dest = await existingLayout('copy-dest');
  const tmp = await privateTmp('copy');
  const run = await interrupt(['copy', `docker-archive:${sourceArchive}`, `oci:${dest.dir}:copied`], tmp, {
    line: '[cconv] Copying blob',
    until: () => writingBlob(dest),
  }, 'SIGTERM');
  await stopped(t, run, tmp, { status: 143, signal: 'SIGTERM', stage: 'Copying the image' });
  await unchanged(t, dest);
});
