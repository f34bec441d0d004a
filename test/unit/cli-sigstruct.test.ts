/**
 * `cconv sigstruct view|export|import` against Gramine's golden vectors (test/vectors, read at
 * run time). The two-step round trip signs with the real `openssl dgst -sha256 -sign`.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPair } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ExitStatus } from '../../src/cli/exit.ts';
import { cli } from '../helpers/cli.ts';
import { exactFieldValue, flipByte, KEY_PKCS1, KEY_PUBLIC, loadSignCases, vectorPath } from '../helpers/enclave-vectors.ts';

const run = promisify(execFile);
const cases = loadSignCases();
const LIBPAL = vectorPath('inputs/libpal-standin/libpal.so');
const DATE = (JSON.parse(await readFile(vectorPath('sgx-sign/index.json'), 'utf8')) as { sigstruct_date: string }).sigstruct_date;
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-cli-sigstruct-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

type ErrorJson = { error: { code: string; message: string; hint?: string } };
const errorOf = (stdout: string) => (JSON.parse(stdout) as ErrorJson).error;
const sigPath = (caseDir: string) => vectorPath(`sgx-sign/${caseDir}/app.sig`);

for (const c of cases) {
  test(`${c.name}: view --verify --json gives gramine-sgx-sigstruct-view's summary and every field`, async (t) => {
    const r = await cli(['sigstruct', 'view', sigPath(c.dir), '--verify', '--json']);
    t.is(r.status, 0, r.stderr);
    const view = JSON.parse(r.stdout) as Record<string, unknown> & { fields: Record<string, string | number>; verified: boolean };
    const tool = c.vector.outputs.sigstruct_view_tool_output;
    t.deepEqual(Object.keys(view).slice(0, Object.keys(tool).length), Object.keys(tool));
    for (const [k, v] of Object.entries(tool)) t.deepEqual(view[k], v, k);
    t.true(view.verified);
    for (const [name, field] of Object.entries(c.vector.outputs.sigstruct_fields)) {
      if (typeof field !== 'object') continue; // date_raw_bytes_hex: a note, not a field
      const mine = view.fields[name];
      if (field.format.endsWith('s')) t.is(mine, field.value, name);
      else t.is(BigInt(mine as string | number), exactFieldValue(c, name), name);
    }
  });
}

test('view prints a field table with whole long numbers', async (t) => {
  const c = cases[1]!;
  const r = await cli(['sigstruct', 'view', sigPath(c.dir)]);
  t.is(r.status, 0, r.stderr);
  const f = c.vector.outputs.sigstruct_fields;
  t.regex(r.stdout, new RegExp(`^ENCLAVEHASH +${f.enclave_hash!.value}$`, 'm'));
  t.regex(r.stdout, new RegExp(`^ISVPRODID +${f.isv_prod_id!.value}$`, 'm'));
  t.regex(r.stdout, new RegExp(`^MRSIGNER +${c.mrsigner}$`, 'm'));
  t.regex(r.stdout, /^Signature +not checked \(use --verify\)$/m);
  const modulus = /^MODULUS +([\s\S]*?)^EXPONENT/m.exec(r.stdout)?.[1]?.replace(/\s+/g, '');
  t.is(modulus, String(f.modulus!.value));
});

test('view --verify rejects a tampered SIGSTRUCT; plain view still shows it; a short file is E_SIGSTRUCT_INVALID', async (t) => {
  const c = cases[0]!;
  const svn = join(dir, 'svn.sig');
  const q1 = join(dir, 'q1.sig');
  const short = join(dir, 'short.sig');
  await writeFile(svn, flipByte(c.appSig, Number(c.vector.outputs.sigstruct_fields.isv_svn!.offset)));
  await writeFile(q1, flipByte(c.appSig, Number(c.vector.outputs.sigstruct_fields.q1!.offset)));
  await writeFile(short, c.appSig.subarray(0, 1000));
  const bad = await cli(['sigstruct', 'view', svn, '--verify', '--json']);
  t.is(bad.status, ExitStatus.crypto);
  t.is(errorOf(bad.stdout).code, 'E_SIGNATURE_INVALID');
  const badQ = await cli(['sigstruct', 'view', q1, '--verify', '--json']);
  t.is(errorOf(badQ.stdout).code, 'E_SIGNATURE_INVALID');
  t.regex(errorOf(badQ.stdout).message, /Q1\/Q2/);
  const unchecked = await cli(['sigstruct', 'view', svn, '--json']);
  t.is(unchecked.status, 0);
  t.false((JSON.parse(unchecked.stdout) as { verified: boolean }).verified);
  const s = await cli(['sigstruct', 'view', short, '--json']);
  t.is(s.status, ExitStatus.crypto);
  t.is(errorOf(s.stdout).code, 'E_SIGSTRUCT_INVALID');
  const missing = await cli(['sigstruct', 'view', join(dir, 'none.sig'), '--json']);
  t.is(missing.status, ExitStatus.environment);
  t.is(errorOf(missing.stdout).message, `cannot read SIGSTRUCT ${join(dir, 'none.sig')}: no such file or directory`);
});

for (const c of cases) {
  test(`${c.name}: export, openssl dgst -sha256 -sign, import gives app.sig`, async (t) => {
    const data = join(dir, `${c.dir}.tbs`);
    const unsigned = join(dir, `${c.dir}.unsigned`);
    const exp = await cli(['sigstruct', 'export', '--manifest', vectorPath(`sgx-sign/${c.dir}/app.manifest.sgx`), '--libpal', LIBPAL, '--date', DATE, '--signing-data', data, '--unsigned', unsigned, '--json']);
    t.is(exp.status, 0, exp.stderr);
    const e = JSON.parse(exp.stdout) as Record<string, unknown>;
    t.is(e.mrenclave, c.mrenclave);
    t.false('mrsigner' in e);
    t.is((await readFile(data)).toString('hex'), c.vector.outputs.signed_data_hex);
    t.is(e.signingDataSha256, createHash('sha256').update(Buffer.from(c.vector.outputs.signed_data_hex, 'hex')).digest('hex'));
    t.is((await stat(unsigned)).mode & 0o777, 0o644);

    const sig = join(dir, `${c.dir}.sig.bin`);
    await run('openssl', ['dgst', '-sha256', '-sign', KEY_PKCS1, '-out', sig, data]);
    const out = join(dir, `${c.dir}.sig`);
    const imp = await cli(['sigstruct', 'import', '--unsigned', unsigned, '--signature', sig, '--pubkey', KEY_PUBLIC, '--output', out, '--json']);
    t.is(imp.status, 0, imp.stderr);
    t.true((await readFile(out)).equals(c.appSig));
    t.is((await stat(out)).mode & 0o777, 0o644);
    const i = JSON.parse(imp.stdout) as { mrsigner: string; mrenclave: string };
    t.is(i.mrsigner, c.mrsigner);
    t.is(i.mrenclave, c.mrenclave);
    // the unsigned SIGSTRUCT views, but does not verify
    const v = await cli(['sigstruct', 'view', unsigned, '--verify', '--json']);
    t.is(errorOf(v.stdout).code, 'E_SIGNATURE_INVALID');
    t.regex(errorOf(v.stdout).message, /is not signed/);
    const text = await cli(['sigstruct', 'view', unsigned]);
    t.regex(text.stdout, new RegExp(`^ENCLAVEHASH +${c.mrenclave}$`, 'm'));
    t.regex(text.stdout, /^MRSIGNER +\(not signed\)$/m);
  });
}

test('import: base64 (openssl base64, wrapped) and hex signatures; wrong encoding, signature or key fail', async (t) => {
  const c = cases[2]!;
  const data = join(dir, 'enc.tbs');
  const unsigned = join(dir, 'enc.unsigned');
  const exp = await cli(['sigstruct', 'export', '--manifest', vectorPath(`sgx-sign/${c.dir}/app.manifest.sgx`), '--libpal', LIBPAL, '--signing-data', data, '--unsigned', unsigned], { SOURCE_DATE_EPOCH: String(Date.parse(`${DATE}T00:00:00Z`) / 1000) });
  t.is(exp.status, 0, exp.stderr);
  t.regex(exp.stdout, /openssl dgst -sha256 -sign/);
  const raw = join(dir, 'enc.sig.bin');
  await run('openssl', ['dgst', '-sha256', '-sign', KEY_PKCS1, '-out', raw, data]);
  const b64 = join(dir, 'enc.sig.b64');
  await run('openssl', ['base64', '-in', raw, '-out', b64]);
  const hex = join(dir, 'enc.sig.hex');
  await writeFile(hex, `${(await readFile(raw)).toString('hex').replace(/(.{64})/g, '$1\n')}\n`);
  const out = join(dir, 'enc.sig');
  const imp = (sig: string, ...more: string[]) => cli(['sigstruct', 'import', '--unsigned', unsigned, '--signature', sig, '--pubkey', KEY_PUBLIC, '--output', out, '--json', ...more]);
  for (const [file, enc] of [[b64, 'base64'], [hex, 'hex']] as const) {
    await rm(out, { force: true });
    const r = await imp(file, '--signature-encoding', enc);
    t.is(r.status, 0, r.stderr);
    t.true((await readFile(out)).equals(c.appSig));
  }
  const wrongEnc = await imp(raw, '--signature-encoding', 'hex');
  t.is(wrongEnc.status, ExitStatus.crypto);
  t.is(errorOf(wrongEnc.stdout).code, 'E_SIGNATURE_INVALID');
  t.regex(errorOf(wrongEnc.stdout).hint ?? '', /--signature-encoding/);
  const flipped = join(dir, 'flipped.bin');
  await writeFile(flipped, flipByte(await readFile(raw), 100));
  t.is(errorOf((await imp(flipped)).stdout).code, 'E_SIGNATURE_INVALID');
  const { publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 3, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const smallPub = join(dir, 'small.pub.pem');
  await writeFile(smallPub, publicKey);
  const small = await cli(['sigstruct', 'import', '--unsigned', unsigned, '--signature', raw, '--pubkey', smallPub, '--output', out, '--json']);
  t.is(small.status, ExitStatus.crypto);
  t.is(errorOf(small.stdout).code, 'E_KEY_INVALID');
  const notPem = await cli(['sigstruct', 'import', '--unsigned', unsigned, '--signature', raw, '--pubkey', raw, '--output', out, '--json']);
  t.is(errorOf(notPem.stdout).code, 'E_KEY_INVALID');
  const noSig = await imp(join(dir, 'nope.bin'));
  t.is(noSig.status, ExitStatus.environment);
  t.is(errorOf(noSig.stdout).message, `cannot read signature ${join(dir, 'nope.bin')}: no such file or directory`);
});

test('export: not-ELF libpal is E_ELF_INVALID, missing manifest E_IO; sigstruct with no subcommand is a usage error', async (t) => {
  const c = cases[0]!;
  const manifest = vectorPath(`sgx-sign/${c.dir}/app.manifest.sgx`);
  const args = (libpal: string, m = manifest) => ['sigstruct', 'export', '--manifest', m, '--libpal', libpal, '--signing-data', join(dir, 'e.tbs'), '--unsigned', join(dir, 'e.unsigned'), '--json'];
  const elf = await cli(args(manifest));
  t.is(elf.status, ExitStatus.badImage);
  t.is(errorOf(elf.stdout).code, 'E_ELF_INVALID');
  const io = await cli(args(LIBPAL, join(dir, 'missing.manifest.sgx')));
  t.is(io.status, ExitStatus.environment);
  t.is(errorOf(io.stdout).message, `cannot read manifest ${join(dir, 'missing.manifest.sgx')}: no such file or directory`);
  const none = await cli(['sigstruct']);
  t.is(none.status, ExitStatus.usage);
  t.regex(none.stderr, /name a subcommand/);
});
