import test from 'ava';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkSgxKey,
  keyObjectSigner,
  mrsignerOf,
  pemFileSigner,
  signSigstruct,
  type Signer,
} from '../../src/enclave/index.ts';
import { KEY_PKCS1, KEY_PKCS8, KEY_PUBLIC, loadSignCases, requestOf } from '../helpers/enclave-vectors.ts';

const cases = loadSignCases();
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-enclave-sign-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const c of cases) {
  for (const [form, path] of [['PKCS#1', KEY_PKCS1], ['PKCS#8', KEY_PKCS8]] as const) {
    test(`${c.name}: signing with the ${form} PEM gives app.sig byte for byte and its MRSIGNER`, async (t) => {
      const signer = await pemFileSigner(path);
      const { sigstruct, mrsigner } = await signSigstruct({ ...requestOf(c), signer });
      t.is(sigstruct.toString('hex'), c.appSig.toString('hex'));
      t.is(mrsigner, c.mrsigner);
    });
  }
}

test('default masks (flags mask, misc mask omitted) are Gramine\'s', async (t) => {
  const c = cases[0]!;
  const req = requestOf(c);
  const { flagsMask: _f, miscMask: _m, ...attributes } = req.attributes;
  const { sigstruct } = await signSigstruct({ ...req, attributes, signer: await pemFileSigner(KEY_PKCS1) });
  t.true(sigstruct.equals(c.appSig));
});

test('MRSIGNER of the private and the public key file matches the vectors', async (t) => {
  const priv = createPrivateKey(await readFile(KEY_PKCS1));
  t.is(mrsignerOf(checkSgxKey(priv).modulus), cases[0]!.mrsigner);
  t.is(mrsignerOf(checkSgxKey(createPublicKey(await readFile(KEY_PUBLIC))).modulus), cases[0]!.mrsigner);
});

test('encrypted PEM (PKCS#8 and traditional): right passphrase signs, wrong one is E_KEY_INVALID', async (t) => {
  const key = createPrivateKey(await readFile(KEY_PKCS1));
  const secret = 'correct horse battery staple';
  const c = cases[0]!;
  for (const type of ['pkcs8', 'pkcs1'] as const) {
    const path = join(dir, `enc-${type}.pem`);
    await writeFile(path, key.export({ type, format: 'pem', cipher: 'aes-256-cbc', passphrase: secret }));
    const { sigstruct } = await signSigstruct({ ...requestOf(c), signer: await pemFileSigner(path, { passphrase: secret }) });
    t.true(sigstruct.equals(c.appSig), type);
    const wrong = 'not-the-passphrase-xyz';
    const err = await t.throwsAsync(pemFileSigner(path, { passphrase: wrong }), { code: 'E_KEY_INVALID' });
    t.false(err?.message.includes(wrong) ?? true);
    t.false(err?.message.includes(secret) ?? true);
    await t.throwsAsync(pemFileSigner(path), { code: 'E_KEY_INVALID' });
  }
});

test('keys that are not RSA-3072 with e=3 are E_KEY_INVALID', async (t) => {
  const keys = {
    rsa2048: generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey,
    e65537: generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey,
    ec: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    ed25519: generateKeyPairSync('ed25519').privateKey,
  };
  for (const [name, key] of Object.entries(keys)) {
    const path = join(dir, `${name}.pem`);
    await writeFile(path, key.export({ type: 'pkcs8', format: 'pem' }));
    const err = await t.throwsAsync(pemFileSigner(path), { code: 'E_KEY_INVALID' }, name);
    t.regex(err?.message ?? '', /RSA/, name);
  }
  t.throws(() => keyObjectSigner(keys.e65537), { code: 'E_KEY_INVALID', message: /exponent is 65537/ });
  t.throws(() => keyObjectSigner(keys.rsa2048), { code: 'E_KEY_INVALID', message: /2048-bit/ });
});

test('a file that is not a key is E_KEY_INVALID; a missing file is E_IO', async (t) => {
  const path = join(dir, 'junk.pem');
  await writeFile(path, 'hello\n');
  await t.throwsAsync(pemFileSigner(path), { code: 'E_KEY_INVALID' });
  await t.throwsAsync(pemFileSigner(KEY_PUBLIC), { code: 'E_KEY_INVALID' });
  await t.throwsAsync(pemFileSigner(join(dir, 'missing.pem')), { code: 'E_IO' });
});

test('a signer whose signature does not verify is E_SIGNATURE_INVALID; one that throws is E_SIGNER', async (t) => {
  const good = await pemFileSigner(KEY_PKCS1);
  const req = requestOf(cases[0]!);
  const flipped: Signer = {
    publicKey: () => good.publicKey(),
    sign: async (data) => {
      const sig = await good.sign(data);
      sig.writeUInt8(sig.readUInt8(100) ^ 1, 100);
      return sig;
    },
  };
  await t.throwsAsync(signSigstruct({ ...req, signer: flipped }), { code: 'E_SIGNATURE_INVALID' });
  const other = keyObjectSigner(generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).privateKey);
  const mismatched: Signer = { publicKey: () => good.publicKey(), sign: (d) => other.sign(d) };
  await t.throwsAsync(signSigstruct({ ...req, signer: mismatched }), { code: 'E_SIGNATURE_INVALID' });
  const broken: Signer = { publicKey: () => good.publicKey(), sign: async () => { throw new Error('hsm offline'); } };
  await t.throwsAsync(signSigstruct({ ...req, signer: broken }), { code: 'E_SIGNER' });
});

test('a bare big-endian modulus works as the public key', async (t) => {
  const good = await pemFileSigner(KEY_PKCS1);
  const jwk = ((await good.publicKey()) as KeyObject).export({ format: 'jwk' });
  const signer: Signer = { publicKey: async () => ({ modulus: Buffer.from(jwk.n!, 'base64url') }), sign: (d) => good.sign(d) };
  const c = cases[0]!;
  const { sigstruct, mrsigner } = await signSigstruct({ ...requestOf(c), signer });
  t.true(sigstruct.equals(c.appSig));
  t.is(mrsigner, c.mrsigner);
});
