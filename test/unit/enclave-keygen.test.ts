import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSgxKey, generateSigningKey, mrsignerOf, pemFileSigner, signSigstruct, verifySigstruct } from '../../src/enclave/index.ts';
import { loadSignCases, requestOf } from '../helpers/enclave-vectors.ts';

let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-enclave-keygen-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('generates a 0600 PKCS#1 RSA-3072 e=3 key the PEM signer can use; refuses to overwrite', async (t) => {
  const path = join(dir, 'sub', 'enclave-key.pem');
  const gen = await generateSigningKey(path);
  t.is(gen.path, path);
  t.is((await stat(path)).mode & 0o777, 0o600);
  const pem = await readFile(path, 'utf8');
  t.true(pem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n'));
  const key = createPrivateKey(pem);
  t.deepEqual(key.asymmetricKeyDetails, { modulusLength: 3072, publicExponent: 3n });
  t.is(mrsignerOf(checkSgxKey(key).modulus), gen.mrsigner);

  const c = loadSignCases()[0]!;
  const { sigstruct, mrsigner } = await signSigstruct({ ...requestOf(c), signer: await pemFileSigner(path) });
  t.is(mrsigner, gen.mrsigner);
  t.is(verifySigstruct(sigstruct).mrsigner, gen.mrsigner);
  t.is(sigstruct.subarray(0x3c0, 0x3e0).toString('hex'), c.mrenclave);

  await t.throwsAsync(generateSigningKey(path), { code: 'E_IO', message: /refusing to overwrite/ });
  t.is(await readFile(path, 'utf8'), pem);
  t.deepEqual(await readdir(join(dir, 'sub')), ['enclave-key.pem']); // no temp file left
});

test('force replaces an existing file with a new 0600 key', async (t) => {
  const path = join(dir, 'forced.pem');
  await writeFile(path, 'old', { mode: 0o644 });
  const gen = await generateSigningKey(path, { force: true });
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.is(mrsignerOf(checkSgxKey(createPrivateKey(await readFile(path))).modulus), gen.mrsigner);
  t.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.')), []);
});
