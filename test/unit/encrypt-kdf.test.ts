// AES-CMAC against RFC 4493 section 4, and Gramine's metadata-key KDF against the inspect/ dumps.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { aesCmac, deriveMetadataKey, kdfInput } from '../../src/encrypt/index.ts';
import { cmacSubkeys } from '../../src/encrypt/pf/kdf.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const PF = new URL('pf/', VECTORS_URL);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 4493 section 4 test vectors (not part of test/vectors: quoted from the RFC).
const RFC_KEY = hex('2b7e1516 28aed2a6 abf71588 09cf4f3c');
const RFC_MSG = hex(
  '6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51' +
    '30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710',
);
const RFC_CASES: Array<[number, string]> = [
  [0, 'bb1d6929 e9593728 7fa37d12 9b756746'],
  [16, '070a16b4 6b4d4144 f79bdd9d d04a287c'],
  [40, 'dfa66747 de9ae630 30ca3261 1497c827'],
  [64, '51f0bebf 7e3b9d92 fc497417 79363cfe'],
];

test('CMAC subkeys match RFC 4493', (t) => {
  const { k1, k2 } = cmacSubkeys(RFC_KEY);
  t.is(k1.toString('hex'), 'fbeed618357133667c85e08f7236a8de');
  t.is(k2.toString('hex'), 'f7ddac306ae266ccf90bc11ee46d513b');
});

for (const [len, tag] of RFC_CASES) {
  test(`AES-CMAC matches RFC 4493 example with Mlen=${len}`, (t) => {
    t.is(aesCmac(RFC_KEY, RFC_MSG.subarray(0, len)).toString('hex'), hex(tag).toString('hex'));
  });
}

test('AES-CMAC rejects a key that is not 16 bytes', (t) => {
  t.throws(() => aesCmac(Buffer.alloc(15), Buffer.alloc(0)), { code: 'E_USAGE' } as never);
});

const dumps = readdirSync(new URL('inspect/', PF)).filter((f) => f.endsWith('.json'));

test('there are KDF dumps to check', (t) => {
  t.true(dumps.length >= 4);
});

for (const f of dumps) {
  test(`KDF input and metadata key match inspect/${f}`, (t) => {
    const d = JSON.parse(readFileSync(new URL(`inspect/${f}`, PF), 'utf8'));
    const index = JSON.parse(readFileSync(new URL('index.json', PF), 'utf8'));
    const wrap = hex(index.wrap_key_hex);
    t.deepEqual(wrap, readFileSync(new URL(index.wrap_key_file, PF)));
    const nonce = hex(d.metadata_key_nonce);
    const input = kdfInput(nonce);
    t.is(input.length, d.kdf_input_size);
    t.is(input.toString('hex'), d.kdf_input_hex);
    t.is(deriveMetadataKey(wrap, nonce).toString('hex'), d.derived_metadata_key);
  });
}
