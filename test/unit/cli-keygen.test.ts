/**
 * `cconv keygen`: key file mode, default location, refusal to overwrite, and that `gramine sign`
 * uses the key (explicitly and as its default) with the MRSIGNER keygen printed.
 */
import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitStatus } from '../../src/cli/exit.ts';
import { defaultSigningKeyPath } from '../../src/index.ts';
import { cli } from '../helpers/cli.ts';
import { loadSignCases, vectorPath } from '../helpers/enclave-vectors.ts';

const c = loadSignCases()[0]!;
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-cli-keygen-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signArgs = (out: string) => ['gramine', 'sign', '--manifest', vectorPath(`sgx-sign/${c.dir}/app.manifest.sgx`), '--libpal', vectorPath('inputs/libpal-standin/libpal.so'), '--date', '2026-01-01', '--output', out, '--json'];

test('keygen PATH writes an RSA-3072 e=3 key with mode 0600, prints path and MRSIGNER only; gramine sign uses it', async (t) => {
  const key = join(dir, 'explicit', 'key.pem');
  const run = await cli(['keygen', key]);
  t.is(run.status, 0, run.stderr);
  t.is((await stat(key)).mode & 0o777, 0o600);
  t.is((await stat(join(dir, 'explicit'))).mode & 0o777, 0o700);
  const pem = await readFile(key, 'utf8');
  t.regex(pem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  const details = createPrivateKey(pem).asymmetricKeyDetails;
  t.is(details?.modulusLength, 3072);
  t.is(details?.publicExponent, 3n);
  const mrsigner = /^MRSIGNER: ([0-9a-f]{64})$/m.exec(run.stdout)?.[1];
  t.truthy(mrsigner);
  t.regex(run.stdout, new RegExp(`^Wrote signing key ${key} `, 'm'));
  t.false(run.stdout.includes('PRIVATE') || run.stderr.includes('PRIVATE'));

  const signed = await cli([...signArgs(join(dir, 'explicit.sig')), '--key', key]);
  t.is(signed.status, 0, signed.stderr);
  const r = JSON.parse(signed.stdout) as { mrsigner: string; mrenclave: string };
  t.is(r.mrsigner, mrsigner!);
  t.is(r.mrenclave, c.mrenclave);
  t.not(r.mrsigner, c.mrsigner);
});

test('keygen with no PATH uses $XDG_CONFIG_HOME/cconv, refuses to overwrite without --force, and is the default key of gramine sign', async (t) => {
  const xdg = join(dir, 'xdg');
  const env = { XDG_CONFIG_HOME: xdg };
  const first = await cli(['keygen', '--json'], env);
  t.is(first.status, 0, first.stderr);
  const made = JSON.parse(first.stdout) as { path: string; mrsigner: string };
  t.deepEqual(Object.keys(made), ['path', 'mrsigner']);
  t.is(made.path, join(xdg, 'cconv', 'enclave-key.pem'));
  t.is((await stat(join(xdg, 'cconv'))).mode & 0o777, 0o700);
  const before = await readFile(made.path);

  const again = await cli(['keygen', '--json'], env);
  t.is(again.status, ExitStatus.usage);
  const e = (JSON.parse(again.stdout) as { error: { code: string; message: string; hint: string } }).error;
  t.is(e.code, 'E_USAGE');
  t.is(e.message, `refusing to overwrite existing file ${made.path}`);
  t.regex(e.hint, /--force/);
  t.true((await readFile(made.path)).equals(before));

  const signed = await cli(signArgs(join(dir, 'default.sig')), env);
  t.is(signed.status, 0, signed.stderr);
  t.is((JSON.parse(signed.stdout) as { mrsigner: string }).mrsigner, made.mrsigner);

  const forced = await cli(['keygen', '--force', '--json'], env);
  t.is(forced.status, 0, forced.stderr);
  const replaced = JSON.parse(forced.stdout) as { path: string; mrsigner: string };
  t.is(replaced.path, made.path);
  t.not(replaced.mrsigner, made.mrsigner);
  t.false((await readFile(made.path)).equals(before));
  t.is((await stat(made.path)).mode & 0o777, 0o600);
});

test('default key path: XDG_CONFIG_HOME when absolute, else $HOME/.config, else the given home', (t) => {
  t.is(defaultSigningKeyPath({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/u' }, '/h'), '/x/conf/cconv/enclave-key.pem');
  t.is(defaultSigningKeyPath({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' }, '/h'), '/home/u/.config/cconv/enclave-key.pem');
  t.is(defaultSigningKeyPath({ HOME: '/home/u' }, '/h'), '/home/u/.config/cconv/enclave-key.pem');
  t.is(defaultSigningKeyPath({}, '/h'), '/h/.config/cconv/enclave-key.pem');
});

test('keygen into a path below a regular file is E_IO (exit 5)', async (t) => {
  const file = join(dir, 'plain-file');
  await writeFile(file, 'x');
  const run = await cli(['keygen', join(file, 'key.pem'), '--json']);
  t.is(run.status, ExitStatus.environment);
  t.is((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'E_IO');
});
