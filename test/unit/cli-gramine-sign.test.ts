/**
 * `cconv gramine sign` against Gramine's golden vectors (test/vectors, read at run time):
 * the written .sig must be app.sig byte for byte, and the printed identity the vector's.
 */
import test from 'ava';
import { createPrivateKey, generateKeyPair } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitCommandLine } from '../../src/cli/options/signer.ts';
import { ExitStatus } from '../../src/cli/exit.ts';
import { cli } from '../helpers/cli.ts';
import { KEY_PKCS1, KEY_PKCS8, KEY_PUBLIC, loadSignCases, vectorPath } from '../helpers/enclave-vectors.ts';

const cases = loadSignCases();
const LIBPAL = vectorPath('inputs/libpal-standin/libpal.so');
const DATE = (JSON.parse(await readFile(vectorPath('sgx-sign/index.json'), 'utf8')) as { sigstruct_date: string }).sigstruct_date;
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-cli-gsign-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const manifestOf = (caseDir: string) => vectorPath(`sgx-sign/${caseDir}/app.manifest.sgx`);
const baseArgs = (caseDir: string, out: string) => ['gramine', 'sign', '--manifest', manifestOf(caseDir), '--libpal', LIBPAL, '--output', out];

interface SignJson {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  debug: boolean;
  date: string;
  attributes: { flags: string; xfrm: string; flagsMask: string; xfrmMask: string; miscSelect: number; miscMask: number };
  output: string;
}

/** vector.json `outputs.attributes`. */
interface VectorAttributes {
  flags: string;
  xfrm: string;
  flags_mask: string;
  xfrm_mask: string;
  misc_select: string;
  misc_mask: string;
  isv_prod_id: number;
  isv_svn: number;
  date: string;
}

type ErrorJson = { error: { code: string; message: string; hint?: string; exitStatus: number } };

for (const c of cases) {
  test(`${c.name}: writes exactly app.sig and prints the vector's identity`, async (t) => {
    const out = join(dir, `${c.dir}.sig`);
    const run = await cli([...baseArgs(c.dir, out), '--key', KEY_PKCS1, '--date', DATE, '--json']);
    t.is(run.status, 0, run.stderr);
    t.true((await readFile(out)).equals(c.appSig));
    t.is((await stat(out)).mode & 0o777, 0o644);
    const r = JSON.parse(run.stdout) as SignJson;
    const a = c.vector.outputs.attributes as unknown as VectorAttributes;
    t.is(r.mrenclave, c.mrenclave);
    t.is(r.mrsigner, c.mrsigner);
    t.is(r.isvProdId, a.isv_prod_id);
    t.is(r.isvSvn, a.isv_svn);
    t.is(r.debug, c.vector.outputs.sigstruct_view_tool_output.debug_enclave as boolean);
    t.is(r.date, a.date);
    t.deepEqual(r.attributes, {
      flags: a.flags,
      xfrm: a.xfrm,
      flagsMask: a.flags_mask,
      xfrmMask: a.xfrm_mask,
      miscSelect: Number(a.misc_select),
      miscMask: Number(a.misc_mask),
    });
    t.is(r.output, out);
  });
}

test('text output names the file and the identity; the date defaults to SOURCE_DATE_EPOCH', async (t) => {
  const c = cases[0]!;
  const out = join(dir, 'epoch.sig');
  const epoch = String(Date.parse(`${DATE}T23:59:59Z`) / 1000);
  const run = await cli([...baseArgs(c.dir, out), '--key', KEY_PKCS8], { SOURCE_DATE_EPOCH: epoch });
  t.is(run.status, 0, run.stderr);
  t.true((await readFile(out)).equals(c.appSig));
  t.regex(run.stdout, new RegExp(`^Wrote ${out}\nMRENCLAVE: +${c.mrenclave}\nMRSIGNER: +${c.mrsigner}\n`));
  t.regex(run.stderr, /\[cconv\] Measuring the enclave\.\.\./);
  // an existing .sig is replaced
  t.is((await cli([...baseArgs(c.dir, out), '--key', KEY_PKCS8], { SOURCE_DATE_EPOCH: epoch })).status, 0);
});

test('an encrypted key takes its passphrase from stdin or the environment, never from argv', async (t) => {
  const c = cases[1]!;
  const enc = join(dir, 'enc.pem');
  const pem = createPrivateKey(await readFile(KEY_PKCS1)).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 's3cr3t-pass' });
  await writeFile(enc, pem, { mode: 0o600 });
  const out = join(dir, 'enc.sig');
  const viaStdin = await cli([...baseArgs(c.dir, out), '--key', enc, '--date', DATE, '--passphrase-stdin'], {}, 's3cr3t-pass\n');
  t.is(viaStdin.status, 0, viaStdin.stderr);
  t.true((await readFile(out)).equals(c.appSig));
  await rm(out);
  const viaEnv = await cli([...baseArgs(c.dir, out), '--key', enc, '--date', DATE], { CCONV_SIGNING_KEY_PASSPHRASE: 's3cr3t-pass' });
  t.is(viaEnv.status, 0, viaEnv.stderr);
  t.true((await readFile(out)).equals(c.appSig));

  const wrong = await cli([...baseArgs(c.dir, out), '--key', enc, '--date', DATE, '--passphrase-stdin', '--json'], {}, 'wrong-guess\n');
  t.is(wrong.status, ExitStatus.crypto);
  t.is((JSON.parse(wrong.stdout) as ErrorJson).error.code, 'E_KEY_INVALID');
  t.false(wrong.stdout.includes('wrong-guess') || wrong.stderr.includes('wrong-guess'));
  const none = await cli([...baseArgs(c.dir, out), '--key', enc, '--date', DATE, '--json']);
  t.is((JSON.parse(none.stdout) as ErrorJson).error.code, 'E_KEY_INVALID');
  const onArgv = await cli([...baseArgs(c.dir, out), '--key', enc, '--passphrase', 's3cr3t-pass']);
  t.is(onArgv.status, ExitStatus.usage);
});

test('an external signer command (openssl) gives app.sig, raw or base64, stdin or {in}', async (t) => {
  const c = cases[3]!;
  const out = join(dir, 'ext.sig');
  const raw = await cli([...baseArgs(c.dir, out), '--date', DATE, '--signer-cmd', `openssl dgst -sha256 -sign '${KEY_PKCS1}'`, '--signer-pubkey', KEY_PUBLIC]);
  t.is(raw.status, 0, raw.stderr);
  t.true((await readFile(out)).equals(c.appSig));
  await rm(out);
  const b64 = await cli([
    ...baseArgs(c.dir, out), '--date', DATE, '--json',
    '--signer-cmd', `sh -c "openssl dgst -sha256 -sign \\"${KEY_PKCS1}\\" {in} | base64"`,
    '--signer-pubkey', KEY_PUBLIC, '--signer-encoding', 'base64',
  ]);
  t.is(b64.status, 0, b64.stderr);
  t.true((await readFile(out)).equals(c.appSig));
  t.is((JSON.parse(b64.stdout) as SignJson).mrsigner, c.mrsigner);
  const failing = await cli([...baseArgs(c.dir, out), '--date', DATE, '--signer-cmd', 'false', '--signer-pubkey', KEY_PUBLIC, '--json']);
  t.is(failing.status, ExitStatus.crypto);
  t.is((JSON.parse(failing.stdout) as ErrorJson).error.code, 'E_SIGNER');
});

test('splitCommandLine: quoting without a shell', (t) => {
  t.deepEqual(splitCommandLine(`a  'b c' "d \\"e\\" $f" g\\ h i'j'"k"`), ['a', 'b c', 'd "e" $f', 'g h', 'ijk']);
  t.deepEqual(splitCommandLine(`x '' ""`), ['x', '', '']);
  t.throws(() => splitCommandLine(`a 'b`), { code: 'E_USAGE' });
  t.throws(() => splitCommandLine(`a "b`), { code: 'E_USAGE' });
  t.throws(() => splitCommandLine('   '), { code: 'E_USAGE' });
});

const generate = promisify(generateKeyPair);
const pemKey = async (bits: number, e: number) =>
  (await generate('rsa', { modulusLength: bits, publicExponent: e, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })).privateKey;

test('a key of the wrong size or exponent is E_KEY_INVALID (exit 6)', async (t) => {
  const c = cases[0]!;
  const [small, e65537] = await Promise.all([pemKey(2048, 3), pemKey(3072, 65537)]);
  for (const [name, pem, why] of [['small.pem', small, /2048-bit, SGX requires 3072-bit/], ['e65537.pem', e65537, /exponent is 65537, SGX requires exactly 3/]] as const) {
    const key = join(dir, name);
    await writeFile(key, pem, { mode: 0o600 });
    const run = await cli([...baseArgs(c.dir, join(dir, 'bad.sig')), '--key', key, '--date', DATE, '--json']);
    t.is(run.status, ExitStatus.crypto);
    const { error } = JSON.parse(run.stdout) as ErrorJson;
    t.is(error.code, 'E_KEY_INVALID');
    t.regex(error.message, why);
    t.false(run.stdout.includes('PRIVATE KEY') || run.stderr.includes('PRIVATE KEY'));
  }
  await t.throwsAsync(stat(join(dir, 'bad.sig')), { code: 'ENOENT' });
});

test('a missing input is E_IO naming the path (exit 5)', async (t) => {
  const c = cases[0]!;
  const missing = join(dir, 'no-such.manifest.sgx');
  const run = await cli(['gramine', 'sign', '--manifest', missing, '--libpal', LIBPAL, '--key', KEY_PKCS1, '--output', join(dir, 'x.sig'), '--json']);
  t.is(run.status, ExitStatus.environment);
  const { error } = JSON.parse(run.stdout) as ErrorJson;
  t.is(error.code, 'E_IO');
  t.is(error.message, `cannot read manifest ${missing}: no such file or directory`);
  t.regex(run.stderr, new RegExp(`^cconv: error E_IO: cannot read manifest ${missing}: no such file or directory$`, 'm'));
  const noKey = await cli([...baseArgs(c.dir, join(dir, 'x.sig')), '--key', join(dir, 'nokey.pem'), '--json']);
  t.is((JSON.parse(noKey.stdout) as ErrorJson).error.message, `cannot read signing key ${join(dir, 'nokey.pem')}: no such file or directory`);
  const isDir = await cli([...baseArgs(c.dir, join(dir, 'x.sig')).slice(0, 4), '--libpal', dir, '--key', KEY_PKCS1, '--output', join(dir, 'x.sig'), '--json']);
  t.is((JSON.parse(isDir.stdout) as ErrorJson).error.message, `cannot read libpal ${dir}: is a directory`);
  // the default key (no --key) is looked up under XDG_CONFIG_HOME, with a hint to create it
  const noDefault = await cli([...baseArgs(c.dir, join(dir, 'x.sig')), '--json'], { XDG_CONFIG_HOME: join(dir, 'empty-xdg') });
  const e = (JSON.parse(noDefault.stdout) as ErrorJson).error;
  t.is(e.message, `cannot read signing key ${join(dir, 'empty-xdg', 'cconv', 'enclave-key.pem')}: no such file or directory`);
  t.regex(e.hint ?? '', /cconv keygen/);
  // an output path below a regular file cannot be written
  const notDir = join(dir, 'not-a-dir');
  await writeFile(notDir, 'x');
  const badOut = await cli([...baseArgs(c.dir, join(notDir, 'x.sig')), '--key', KEY_PKCS1, '--json']);
  t.is(badOut.status, ExitStatus.environment);
  t.is((JSON.parse(badOut.stdout) as ErrorJson).error.code, 'E_IO');
});

test('a libpal that is not an ELF file is E_ELF_INVALID (exit 4)', async (t) => {
  const c = cases[0]!;
  const run = await cli(['gramine', 'sign', '--manifest', manifestOf(c.dir), '--libpal', manifestOf(c.dir), '--key', KEY_PKCS1, '--output', join(dir, 'elf.sig'), '--json']);
  t.is(run.status, ExitStatus.badImage);
  t.is((JSON.parse(run.stdout) as ErrorJson).error.code, 'E_ELF_INVALID');
});

test('usage errors: both signers, signer without public key, bad date, missing --output (exit 2)', async (t) => {
  const c = cases[0]!;
  const out = join(dir, 'u.sig');
  const runs = await Promise.all([
    cli([...baseArgs(c.dir, out), '--key', KEY_PKCS1, '--signer-cmd', 'openssl', '--signer-pubkey', KEY_PUBLIC]),
    cli([...baseArgs(c.dir, out), '--signer-cmd', 'openssl']),
    cli([...baseArgs(c.dir, out), '--key', KEY_PKCS1, '--date', '2026-02-30', '--json']),
    cli(['gramine', 'sign', '--manifest', manifestOf(c.dir), '--libpal', LIBPAL, '--key', KEY_PKCS1]),
    cli([...baseArgs(c.dir, out), '--key', KEY_PKCS1, '--json'], { SOURCE_DATE_EPOCH: 'yesterday' }),
  ]);
  for (const run of runs) t.is(run.status, ExitStatus.usage, run.stderr);
  t.is((JSON.parse(runs[2]!.stdout) as ErrorJson).error.code, 'E_USAGE');
  t.is((JSON.parse(runs[4]!.stdout) as ErrorJson).error.code, 'E_USAGE');
  t.regex(runs[3]!.stderr, /output/);
  await t.throwsAsync(stat(out), { code: 'ENOENT' });
});
