/**
 * `cconv build`, `copy` and `verify` as whole processes under a real pseudo-terminal (util-linux
 * `script`), as a user runs them: the listr2 task list is drawn, the command exits 0 and the
 * screen ends with the labelled steps checked off and the result. CI's stderr is no TTY, so only
 * this test sees the interactive renderer (issue 15: `build` crashed there in every terminal).
 * The pty of `script` has no size (0x0); `stty` gives it 100x40 as a terminal window would.
 * The process is bin/cconv.js, what a user runs.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { cli } from '../helpers/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/cconv.js', import.meta.url));
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

let fixtures: FixtureSet;
let work: string;
let key: string;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-tty-');
  key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  if (gen.status !== 0) throw new Error(`cconv keygen failed: ${gen.stderr}`);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs `cconv ...args` under a pty; resolves to its exit status and the screen text, ANSI stripped. */
function underPty(args: string[]): Promise<{ status: number; lines: string[]; raw: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', COLUMNS: '100', LINES: '40' };
  delete env.CI; // the test runner sets CI=true, which selects plain lines
  const cmd = `stty cols 100 rows 40; exec ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = execFile('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 90_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') return reject(err);
      const text = stdout.replace(ANSI, '').replaceAll('\r', '');
      resolve({ status: err ? (err.code as number) : 0, raw: stdout, lines: text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '') });
    });
    child.stdin?.end();
  });
}

/** The index of the first of `lines` matching `re`, or -1. */
const find = (lines: string[], re: RegExp) => lines.findIndex((l) => re.test(l));

test.serial('build, copy and verify run to the end in a terminal and show their labelled steps', async (t) => {
  const out = join(work, 'out');
  const build = await underPty([
    'build',
    `oci:${fixtures.path('hello', 'oci')}`,
    '--runtime-image',
    `oci:${fixtures.path('gramine-runtime', 'oci')}`,
    '--key',
    key,
    '--output',
    `oci:${out}:hello-sgx`,
  ]);
  t.is(build.status, 0, build.lines.slice(-15).join('\n'));
  t.true(build.raw.includes('\x1b['), 'the interactive (ANSI) renderer drew the list');
  const tail = build.lines.slice(-16);
  const steps = ['Reading and hashing the image', 'Measuring the enclave', 'Signing the SIGSTRUCT', 'Assembling the confidential image', 'Writing the image'];
  const at = steps.map((s) => find(tail, new RegExp(`✔ ${s}`)));
  t.false(at.includes(-1), `every step is checked off at the end:\n${tail.join('\n')}`);
  t.deepEqual([...at].sort((a, b) => a - b), at, 'in order');
  const built = find(tail, /^Built oci:.*:hello-sgx@sha256:[0-9a-f]{64}$/);
  t.true(built > at.at(-1)!, `the result follows the list:\n${tail.join('\n')}`);
  t.regex(tail[built + 1] ?? '', /^ {2}MRENCLAVE {2}[0-9a-f]{64}$/);
  t.false(build.lines.some((l) => /E_INTERNAL|TypeError/.test(l)));

  const copied = join(work, 'copied');
  const copy = await underPty(['copy', `oci:${out}:hello-sgx`, `oci:${copied}:again`]);
  t.is(copy.status, 0, copy.lines.slice(-15).join('\n'));
  const copyTail = copy.lines.slice(-5);
  t.true(find(copyTail, /✔ Copying the image/) !== -1, copyTail.join('\n'));
  t.regex(copyTail.at(-3) ?? '', /^Copied oci:.*:hello-sgx to oci:.*:again$/);
  t.regex(copyTail.at(-2) ?? '', /^ {2}digest sha256:[0-9a-f]{64}$/);

  const verify = await underPty(['verify', `oci:${copied}:again`]);
  t.is(verify.status, 0, verify.lines.slice(-15).join('\n'));
  const verifyTail = verify.lines.slice(-14);
  const flattened = find(verifyTail, /✔ Reading and hashing the image/);
  const verified = find(verifyTail, /✔ Verifying the enclave/);
  t.true(flattened !== -1 && verified > flattened, verifyTail.join('\n'));
  t.true(find(verifyTail, /^Verified oci:.*:again \(sha256:[0-9a-f]{64}\)$/) > verified, verifyTail.join('\n'));
  t.is(verifyTail.filter((l) => /^MRENCLAVE: +[0-9a-f]{64}$/.test(l)).length, 1);
  t.regex(verifyTail.at(-1) ?? '', /^Trusted files: \d+ match the manifest/);
});
