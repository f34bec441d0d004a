/**
 * cconv as installed: JavaScript in dist/ run by bin/cconv.js, with command code loaded only when
 * a command runs (issue 15). The sources are compiled with tsconfig.build.json into a package laid
 * out as npm installs it (bin/, dist/, package.json, runtimes/, policies/, node_modules) in a
 * temporary directory, so the checkout's own dist/ is neither needed nor touched. Each run records
 * the modules it loads (test/helpers/record-loads.mjs). Nothing here is timed: speed is measured by
 * the benchmark's startup stage (bench/startup.ts).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL } from '../../src/publish/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const recorder = join(root, 'test/helpers/record-loads.mjs');
const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  /** URLs (file: or node:) of every module the process loaded. */
  loaded: string[];
}

let pkg = '';

function exec(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: root, env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout: 100_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr });
    });
  });
}

/** Runs `node [--import recorder] <dir>/bin/cconv.js ...args`. */
async function cconv(args: string[], dir = pkg): Promise<Run> {
  const record = join(dir, `loads-${process.hrtime.bigint()}.txt`);
  const r = await exec(process.execPath, ['--import', recorder, join(dir, 'bin/cconv.js'), ...args], { CCONV_RECORD_LOADS: record, CI: 'true' });
  const text = await readFile(record, 'utf8').catch(() => '');
  await rm(record, { force: true });
  return { ...r, loaded: [...new Set(text.split('\n').filter(Boolean))] };
}

/** Packages whose loading --version and --help must not pay for. */
const HEAVY = ['tsx', '@phala/dcap-qvl', '@sigstore/sign', '@sigstore/verify', '@sigstore/bundle', '@sigstore/protobuf-specs', 'dockerode', '@grpc/grpc-js', 'protobufjs', 'yaml', 'listr2', 'tar-stream'];

/** The compiled modules of `dir`'s dist/ that a run loaded, relative to dist/. */
function distModules(run: Run, dir = pkg): string[] {
  const prefix = pathToFileURL(join(dir, 'dist')).href + '/';
  return run.loaded.filter((u) => u.startsWith(prefix)).map((u) => u.slice(prefix.length));
}

/** Checks that `run` loaded only the CLI's front: no TypeScript, no heavy package, no library module. */
function assertFront(t: import('ava').ExecutionContext, run: Run): void {
  t.deepEqual(run.loaded.filter((u) => u.endsWith('.ts')), [], 'no TypeScript source is loaded');
  for (const name of HEAVY) t.false(run.loaded.some((u) => u.includes(`/node_modules/${name}/`)), `${name} is not loaded`);
  t.deepEqual(distModules(run).filter((m) => !m.startsWith('cli/') && m !== 'errors.js'), [], 'only dist/cli/ and errors.js are loaded');
  t.deepEqual(distModules(run).filter((m) => m.startsWith('cli/commands/')), [], 'no command module is loaded');
}

test.before(async () => {
  pkg = await mkdtemp(join(tmpdir(), 'cconv-startup-'));
  // --noCheck: emit only; type errors are the type-check's business (npm test runs it first).
  const tsc = await exec(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--noCheck', '--outDir', join(pkg, 'dist')]);
  if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  await mkdir(join(pkg, 'bin'));
  await copyFile(join(root, 'bin/cconv.js'), join(pkg, 'bin/cconv.js'));
  await copyFile(join(root, 'package.json'), join(pkg, 'package.json'));
  for (const d of ['node_modules', 'runtimes', 'policies']) await symlink(join(root, d), join(pkg, d));
});

test.after.always(async () => {
  if (pkg) await rm(pkg, { recursive: true, force: true });
});

test('--version runs from dist and loads no parser, no library and no TypeScript', async (t) => {
  const run = await cconv(['--version']);
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, `${version}\n`);
  t.is(run.stderr, '');
  assertFront(t, run);
  t.false(run.loaded.some((u) => u.includes('/node_modules/yargs/')), 'a lone --version is answered before yargs is imported');
  t.deepEqual(distModules(run), ['cli/main.js']);
});

test('--help lists every command and loads only the usage modules', async (t) => {
  const run = await cconv(['--help']);
  t.is(run.status, 0, run.stderr);
  for (const name of ['build <source>', 'verify <image>', 'inspect <image>', 'copy <source> <destination>', 'measure <image>', 'sign <image>', 'gramine', 'sigstruct', 'keygen [path]', 'pf', 'keys', 'policy', 'attest', 'kbs']) {
    t.true(run.stdout.includes(`cconv ${name} `), name);
  }
  t.regex(run.stdout, /--version +Show version number/);
  assertFront(t, run);
  t.true(distModules(run).includes('cli/usage/index.js'));
});

test('a subcommand --help shows its options without loading its code', async (t) => {
  const pf = await cconv(['pf', 'encrypt', '--help']);
  t.is(pf.status, 0, pf.stderr);
  t.regex(pf.stdout, /--key-file/);
  t.regex(pf.stdout, /--path/);
  assertFront(t, pf);
  const attest = await cconv(['attest', 'sign', '--help']);
  t.is(attest.status, 0, attest.stderr);
  // The defaults are applied by the command (sigstore's own); the help names them without loading sigstore.
  t.true(attest.stdout.includes(`[default: ${DEFAULT_FULCIO_URL}]`), attest.stdout);
  t.true(attest.stdout.includes(`[default: ${DEFAULT_REKOR_URL}]`), attest.stdout);
  assertFront(t, attest);
});

test('unknown options and commands are still rejected (strict), before any command code loads', async (t) => {
  const option = await cconv(['pf', 'info', 'x.pf', '--no-such-option']);
  t.is(option.status, 2);
  t.regex(option.stderr, /E_USAGE: Unknown argument/);
  assertFront(t, option);
  const command = await cconv(['no-such-command']);
  t.is(command.status, 2);
  t.regex(command.stderr, /E_USAGE/);
  const missing = await cconv(['keys', 'open', '--envelope', 'e.json']);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /Missing required argument: broker-key/);
});

test('a command loads its own module when it runs, and its errors keep their exit status', async (t) => {
  const run = await cconv(['pf', 'info', join(pkg, 'no-such-file.pf'), '--json']);
  t.is(run.status, 5, run.stderr);
  t.is((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'E_IO');
  t.true(distModules(run).includes('cli/commands/pf.js'));
  t.false(run.loaded.some((u) => u.includes('/node_modules/tsx/')));
});

test('without dist/ (an unbuilt checkout) bin/cconv.js says so and runs the sources through tsx', async (t) => {
  const bare = await mkdtemp(join(tmpdir(), 'cconv-nodist-'));
  try {
    await mkdir(join(bare, 'bin'));
    await copyFile(join(root, 'bin/cconv.js'), join(bare, 'bin/cconv.js'));
    await copyFile(join(root, 'package.json'), join(bare, 'package.json'));
    for (const d of ['node_modules', 'src']) await symlink(join(root, d), join(bare, d));
    const run = await cconv(['--version'], bare);
    t.is(run.status, 0, run.stderr);
    t.is(run.stdout, `${version}\n`);
    t.regex(run.stderr, /^cconv: dist\/ is missing \(run npm run build\)/);
    t.is(run.stderr.split('\n').filter(Boolean).length, 1, 'a one-line notice');
  } finally {
    await rm(bare, { recursive: true, force: true });
  }
});
