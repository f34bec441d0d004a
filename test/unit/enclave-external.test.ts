import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSignature, externalCommandSigner, signSigstruct } from '../../src/enclave/index.ts';
import { KEY_PKCS1, KEY_PUBLIC, loadSignCases, requestOf } from '../helpers/enclave-vectors.ts';

const cases = loadSignCases();
let dir = '';
let script = '';

// A stand-in for an HSM client: signs its input with the test key like `openssl dgst -sha256
// -sign`. Usage: sign.mjs MODE KEY [INFILE]; MODE is raw | hex | base64 | zero | short | fail | sleep.
const SCRIPT = `
import { readFileSync } from 'node:fs';
import { sign } from 'node:crypto';
const [mode, key, inFile] = process.argv.slice(2);
if (mode === 'sleep') setTimeout(() => {}, 60000);
else {
  const data = inFile ? readFileSync(inFile) : readFileSync(0);
  if (mode === 'fail') { process.stderr.write('hsm: token not present\\n'); process.exit(3); }
  const sig = sign('sha256', data, readFileSync(key));
  if (mode === 'raw') process.stdout.write(sig);
  else if (mode === 'hex') process.stdout.write(sig.toString('hex') + '\\n');
  else if (mode === 'base64') process.stdout.write(sig.toString('base64').replace(/(.{64})/g, '$1\\n') + '\\n');
  else if (mode === 'zero') process.stdout.write(Buffer.alloc(384));
  else if (mode === 'short') process.stdout.write(sig.subarray(0, 100));
}
`;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-enclave-ext-'));
  script = join(dir, 'sign.mjs');
  await writeFile(script, SCRIPT);
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

const c = cases[0]!;
const node = process.execPath;

async function signWith(command: string[], extra: { encoding?: 'raw' | 'hex' | 'base64'; timeoutMs?: number } = {}) {
  const signer = await externalCommandSigner({ command, publicKeyPath: KEY_PUBLIC, ...extra });
  return signSigstruct({ ...requestOf(c), signer });
}

test('data on stdin, raw signature on stdout gives app.sig byte for byte', async (t) => {
  for (const k of cases) {
    const signer = await externalCommandSigner({ command: [node, script, 'raw', KEY_PKCS1], publicKeyPath: KEY_PUBLIC });
    const { sigstruct, mrsigner } = await signSigstruct({ ...requestOf(k), signer });
    t.is(sigstruct.toString('hex'), k.appSig.toString('hex'), k.name);
    t.is(mrsigner, k.mrsigner);
  }
});

test('{in} placeholder passes a file; hex and wrapped base64 output decode', async (t) => {
  t.true((await signWith([node, script, 'raw', KEY_PKCS1, '{in}'])).sigstruct.equals(c.appSig));
  t.true((await signWith([node, script, 'hex', KEY_PKCS1], { encoding: 'hex' })).sigstruct.equals(c.appSig));
  t.true((await signWith([node, script, 'base64', KEY_PKCS1, '{in}'], { encoding: 'base64' })).sigstruct.equals(c.appSig));
});

test('a wrong or short signature is E_SIGNATURE_INVALID', async (t) => {
  await t.throwsAsync(signWith([node, script, 'zero', KEY_PKCS1]), { code: 'E_SIGNATURE_INVALID' });
  await t.throwsAsync(signWith([node, script, 'short', KEY_PKCS1]), { code: 'E_SIGNATURE_INVALID' });
  // raw bytes announced as hex
  await t.throwsAsync(signWith([node, script, 'raw', KEY_PKCS1], { encoding: 'hex' }), { code: 'E_SIGNER' });
});

test('non-zero exit, a missing command and a timeout are E_SIGNER', async (t) => {
  const err = await t.throwsAsync(signWith([node, script, 'fail', KEY_PKCS1]), { code: 'E_SIGNER', message: /status 3/ });
  t.regex(String((err?.cause as Error | undefined)?.message), /token not present/);
  await t.throwsAsync(signWith([join(dir, 'no-such-signer')]), { code: 'E_SIGNER' });
  await t.throwsAsync(signWith([node, script, 'sleep', KEY_PKCS1], { timeoutMs: 300 }), { code: 'E_SIGNER', message: /timed out/ });
});

test('the public key must be an RSA-3072 e=3 PEM public key', async (t) => {
  await t.throwsAsync(externalCommandSigner({ command: [node], publicKeyPath: join(dir, 'sign.mjs') }), { code: 'E_KEY_INVALID' });
  await t.throwsAsync(externalCommandSigner({ command: [node], publicKeyPath: join(dir, 'missing.pem') }), { code: 'E_IO' });
  await t.throwsAsync(externalCommandSigner({ command: [], publicKeyPath: KEY_PUBLIC }), { code: 'E_USAGE' });
});

test('decodeSignature', (t) => {
  const bytes = Buffer.from([0, 1, 254, 255]);
  t.deepEqual(decodeSignature(Buffer.from(' 0001feff\n'), 'hex', 'x'), bytes);
  t.deepEqual(decodeSignature(Buffer.from('AAH+/w==\n'), 'base64', 'x'), bytes);
  t.deepEqual(decodeSignature(bytes, 'raw', 'x'), bytes);
  t.throws(() => decodeSignature(Buffer.from('0g'), 'hex', 'x'), { code: 'E_SIGNER' });
  t.throws(() => decodeSignature(Buffer.from('AAH'), 'base64', 'x'), { code: 'E_SIGNER' });
});
