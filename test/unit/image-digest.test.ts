import test from 'ava';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createVerifier, digestOf, isDigest, parseDigest, splitDigest } from '../../src/image/digest.ts';
import type { Digest } from '../../src/image/types.ts';

const HEX64 = 'a'.repeat(64);
const HEX128 = '0123456789abcdef'.repeat(8);

const sink = (): Writable & { bytes: Buffer[] } => {
  const bytes: Buffer[] = [];
  return Object.assign(new Writable({ write: (c, _e, cb) => (bytes.push(c as Buffer), cb()) }), { bytes });
};

for (const valid of [`sha256:${HEX64}`, `sha512:${HEX128}`]) {
  test(`accepts ${valid.slice(0, 12)}`, (t) => {
    t.true(isDigest(valid));
    t.is(parseDigest(valid), valid as Digest);
  });
}

const invalid: Array<[string, unknown]> = [
  ['uppercase hex', `sha256:${'A'.repeat(64)}`],
  ['short hex', `sha256:${'a'.repeat(63)}`],
  ['long hex', `sha256:${'a'.repeat(65)}`],
  ['sha512 with 64 hex', `sha512:${HEX64}`],
  ['sha256 with 128 hex', `sha256:${HEX128}`],
  ['unknown algorithm', `md5:${'a'.repeat(32)}`],
  ['uppercase algorithm', `SHA256:${HEX64}`],
  ['no algorithm', HEX64],
  ['empty', ''],
  ['non-hex', `sha256:${'g'.repeat(64)}`],
  ['trailing newline', `sha256:${HEX64}\n`],
  ['not a string', 42],
];
for (const [name, value] of invalid) {
  test(`rejects digest: ${name}`, (t) => {
    t.false(isDigest(value));
    t.throws(() => parseDigest(value), { code: 'E_DIGEST_INVALID' });
  });
}

test('digestOf and splitDigest', (t) => {
  // sha256("abc") and sha512("abc"), from FIPS 180-2 appendix examples
  t.is(digestOf('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' as Digest);
  t.true(digestOf('abc', 'sha512').startsWith('sha512:ddaf35a193617aba'));
  t.deepEqual(splitDigest(digestOf('abc')), { algorithm: 'sha256', hex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' });
});

test('verifier passes matching content through unchanged', async (t) => {
  const data = Buffer.alloc(300_000, 7);
  const out = sink();
  await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), createVerifier(digestOf(data), { size: data.length }), out);
  t.deepEqual(Buffer.concat(out.bytes), data);
});

test('verifier: digest mismatch at end of stream', async (t) => {
  const out = sink();
  const err = await t.throwsAsync(pipeline(Readable.from([Buffer.from('hello')]), createVerifier(digestOf('hellO'), { size: 5, what: 'blob X' }), out), {
    code: 'E_DIGEST_MISMATCH',
  });
  t.regex(err!.message, /^blob X: content has digest sha256:2cf24dba/);
  t.is(Buffer.concat(out.bytes).toString(), 'hello'); // data flowed; the failure came at the end
});

test('verifier: too few bytes is a size mismatch at end', async (t) => {
  await t.throwsAsync(pipeline(Readable.from([Buffer.from('abc')]), createVerifier(digestOf('abcd'), { size: 4 }), sink()), {
    code: 'E_SIZE_MISMATCH',
    message: /3 bytes, expected 4/,
  });
});

test('verifier: overflow fails as soon as the size is exceeded', async (t) => {
  const out = sink();
  let pulled = 0;
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield Buffer.alloc(10, i);
      }
    })(),
  );
  await t.throwsAsync(pipeline(source, createVerifier(digestOf('x'), { size: 15 }), out), { code: 'E_SIZE_MISMATCH', message: /more than 15 bytes/ });
  t.is(Buffer.concat(out.bytes).length, 10); // the overflowing chunk is not passed on
  t.true(pulled < 10);
});

test('verifier without size checks only the digest', async (t) => {
  await t.notThrowsAsync(pipeline(Readable.from([Buffer.from('abc')]), createVerifier(digestOf('abc')), sink()));
});

test('verifier rejects an invalid expected digest', (t) => {
  t.throws(() => createVerifier('sha256:xyz' as Digest), { code: 'E_DIGEST_INVALID' });
});
