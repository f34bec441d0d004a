import test from 'ava';
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSignature, exportSigningData, importSignature } from '../../src/enclave/index.ts';
import { flipByte, KEY_PKCS1, KEY_PUBLIC, loadSignCases, requestOf } from '../helpers/enclave-vectors.ts';

const cases = loadSignCases();
let dir = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-enclave-2step-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const c of cases) {
  test(`${c.name}: export, sign offline, import gives app.sig`, async (t) => {
    const paths = { signingData: join(dir, `${c.dir}.tbs`), unsigned: join(dir, `${c.dir}.unsigned`) };
    const exported = await exportSigningData(requestOf(c), paths);
    const data = await readFile(paths.signingData);
    const unsigned = await readFile(paths.unsigned);
    t.true(data.equals(exported.signingData));
    t.true(unsigned.equals(exported.unsigned));
    t.is(data.toString('hex'), c.vector.outputs.signed_data_hex);
    t.is((await stat(paths.unsigned)).mode & 0o777, 0o644);

    // The offline step: what `openssl dgst -sha256 -sign key.pem` does.
    const signature = sign('sha256', data, createPrivateKey(await readFile(KEY_PKCS1)));
    const pub = createPublicKey(await readFile(KEY_PUBLIC));
    const { sigstruct, mrsigner } = importSignature(unsigned, signature, pub);
    t.is(sigstruct.toString('hex'), c.appSig.toString('hex'));
    t.is(mrsigner, c.mrsigner);
    // base64 text, as a KMS might hand it back
    const fromText = decodeSignature(Buffer.from(signature.toString('base64')), 'base64', 'file');
    t.true(importSignature(unsigned, fromText, pub).sigstruct.equals(c.appSig));
  });
}

test('import rejects a tampered signature or SIGSTRUCT, and a malformed one', async (t) => {
  const c = cases[0]!;
  const paths = { signingData: join(dir, 'x.tbs'), unsigned: join(dir, 'x.unsigned') };
  const { signingData: data, unsigned } = await exportSigningData(requestOf(c), paths);
  const signature = sign('sha256', data, createPrivateKey(await readFile(KEY_PKCS1)));
  const pub = createPublicKey(await readFile(KEY_PUBLIC));
  t.throws(() => importSignature(unsigned, flipByte(signature, 7), pub), { code: 'E_SIGNATURE_INVALID' });
  t.throws(() => importSignature(flipByte(unsigned, 0x402), signature, pub), { code: 'E_SIGNATURE_INVALID' });
  t.throws(() => importSignature(unsigned, signature.subarray(1), pub), { code: 'E_SIGNATURE_INVALID' });
  t.throws(() => importSignature(unsigned.subarray(1), signature, pub), { code: 'E_SIGSTRUCT_INVALID' });
  // export refuses to overwrite unless asked
  await t.throwsAsync(exportSigningData(requestOf(c), paths), { code: 'E_IO' });
  await t.notThrowsAsync(exportSigningData(requestOf(c), { ...paths, overwrite: true }));
});
