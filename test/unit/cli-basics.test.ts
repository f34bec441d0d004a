import test from 'ava';
import { execute, renderMode } from '../../src/cli/command.ts';
import { ExitStatus, exitStatusFor } from '../../src/cli/exit.ts';
import { CconvError } from '../../src/errors.ts';
import { cli } from '../helpers/cli.ts';

test('--version prints the package version', async (t) => {
  const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
  const run = await cli(['--version']);
  t.is(run.status, 0);
  t.is(run.stdout.trim(), pkg.version);
});

test('no command is a usage error with exit status 2', async (t) => {
  const run = await cli([]);
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /E_USAGE/);
});

test('an unknown option is a usage error', async (t) => {
  const run = await cli(['inspect', 'oci:x', '--no-such-option']);
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /Unknown argument/i);
});

test('--help lists the inspect command', async (t) => {
  const run = await cli(['--help']);
  t.is(run.status, 0);
  t.regex(run.stdout, /inspect <image>/);
});

test('an invalid reference fails with E_REF_INVALID, exit 2, and JSON error on stdout with --json', async (t) => {
  const run = await cli(['inspect', 'docker://UPPER/Case', '--json']);
  t.is(run.status, ExitStatus.usage);
  const out = JSON.parse(run.stdout) as { error: { code: string; exitStatus: number } };
  t.is(out.error.code, 'E_REF_INVALID');
  t.is(out.error.exitStatus, ExitStatus.usage);
  t.regex(run.stderr, /^cconv: error E_REF_INVALID: /m);
});

test('exit statuses follow the documented classes', (t) => {
  t.is(exitStatusFor(new CconvError('E_IMAGE_NOT_FOUND', 'x')), ExitStatus.notFound);
  t.is(exitStatusFor(new CconvError('E_DIGEST_MISMATCH', 'x')), ExitStatus.badImage);
  t.is(exitStatusFor(new CconvError('E_NETWORK', 'x')), ExitStatus.environment);
  t.is(exitStatusFor(new CconvError('E_KEY_INVALID', 'x')), ExitStatus.crypto);
  t.is(exitStatusFor(new CconvError('E_TRANSPORT_UNAVAILABLE', 'x')), ExitStatus.unsupported);
  t.is(exitStatusFor(new Error('boom')), ExitStatus.internal);
});

test('render mode: silent for --json and --quiet, plain in CI or without TTY, tty otherwise', (t) => {
  const io = (isTTY: boolean, env: NodeJS.ProcessEnv) => ({ stdout: () => {}, stderr: () => {}, isTTY, env, readStdin: async () => Buffer.alloc(0) });
  t.is(renderMode({ json: true, quiet: false, verbose: false }, io(true, {})), 'silent');
  t.is(renderMode({ json: false, quiet: true, verbose: false }, io(true, {})), 'silent');
  t.is(renderMode({ json: false, quiet: false, verbose: false }, io(true, { CI: 'true' })), 'plain');
  t.is(renderMode({ json: false, quiet: false, verbose: false }, io(false, {})), 'plain');
  t.is(renderMode({ json: false, quiet: false, verbose: false }, io(true, {})), 'tty');
});

test('execute: plain progress goes to stderr, the result to stdout, and internal errors map to exit 1 with a hint', async (t) => {
  let out = '';
  let err = '';
  const io = { stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s), isTTY: false, env: { CI: 'true' }, readStdin: async () => Buffer.alloc(0) };
  const spec = {
    command: 'x',
    describe: 'x',
    builder: (y: never) => y,
    run: async (_a: unknown, report: (e: never) => void) => {
      report({ type: 'start', id: 's', title: 'Step' } as never);
      report({ type: 'done', id: 's' } as never);
      return { value: 42 };
    },
    human: (r: { value: number }) => `value ${r.value}`,
  };
  const args = { json: false, quiet: false, verbose: false };
  t.is(await execute(spec as never, args as never, io), 0);
  t.is(out, 'value 42\n');
  t.regex(err, /\[cconv\] Step\.\.\.\n\[cconv\] Step: done in/);
  const failing = { ...spec, run: async () => { throw new TypeError('kaboom'); } };
  out = '';
  err = '';
  t.is(await execute(failing as never, args as never, io), ExitStatus.internal);
  t.is(out, '');
  t.regex(err, /E_INTERNAL: internal error: kaboom\n {2}hint: this is a bug/);
});
