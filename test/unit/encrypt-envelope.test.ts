// Key envelopes: sealing to a broker key, opening, wrong keys, tampering, broker key files, no leaks.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import nacl from 'tweetnacl';
import { CconvError } from '../../src/errors.ts';
import {
  generateBrokerKeyPair,
  loadBrokerPublicKey,
  loadBrokerSecretKey,
  openEnvelope,
  parseDataKey,
  parseEnvelope,
  sealDataKey,
  withImageDigest,
  writeBrokerKeyFiles,
  type KeyEnvelope,
  type ReleaseIdentity,
} from '../../src/encrypt/index.ts';

const HEX = 'f00dfeedcafebabe0123456789abcdef';
const IDENTITY: ReleaseIdentity = { mrenclave: 'AB'.repeat(32), mrsigner: 'cd'.repeat(32), isvProdId: 7, isvSvn: 3, debug: false };
const key = () => parseDataKey(HEX, 'k');

function leaks(text: string): boolean {
  const raw = Buffer.from(HEX, 'hex');
  return text.toLowerCase().includes(HEX) || text.includes(raw.toString('base64')) || text.includes(raw.toString('base64url'));
}

test('round trip: the broker recovers key, keyName and identity', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'app_key', identity: IDENTITY });
  t.deepEqual(Object.keys(env), ['version', 'algorithm', 'recipientKeyId', 'ephemeralPublicKey', 'nonce', 'ciphertext', 'keyName', 'identity', 'imageDigest']);
  t.is(env.version, 1);
  t.is(env.algorithm, 'x25519-xsalsa20-poly1305');
  t.is(env.recipientKeyId, createHash('sha256').update(broker.publicKey).digest('hex'));
  t.deepEqual(env.identity, { mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), isvprodid: 7, isvsvn: 3, debug: false });
  t.is(env.imageDigest, null);
  t.is(Buffer.from(env.nonce, 'base64').length, 24);
  t.is(Buffer.from(env.ephemeralPublicKey, 'base64').length, 32);
  const opened = openEnvelope(JSON.parse(JSON.stringify(env)) as KeyEnvelope, broker.secretKey);
  t.is(opened.key.expose().toString('hex'), HEX);
  t.is(opened.keyName, 'app_key');
  t.deepEqual(opened.identity, env.identity);
});

test('every envelope has its own ephemeral key and nonce', (t) => {
  const broker = generateBrokerKeyPair();
  const a = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  const b = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  t.not(a.ephemeralPublicKey, b.ephemeralPublicKey);
  t.not(a.nonce, b.nonce);
  t.not(a.ciphertext, b.ciphertext);
});

test('withImageDigest fills the digest and the envelope still opens', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  const digest = `sha256:${'1'.repeat(64)}`;
  const filled = withImageDigest(env, digest);
  t.is(filled.imageDigest, digest);
  t.is(env.imageDigest, null);
  t.is(openEnvelope(filled, broker.secretKey).key.expose().toString('hex'), HEX);
  t.throws(() => withImageDigest(env, 'sha256:xyz'), { code: 'E_DIGEST_INVALID' });
});

test('another broker key fails with a clear E_KEY_INVALID', (t) => {
  const broker = generateBrokerKeyPair();
  const other = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  t.throws(() => openEnvelope(env, other.secretKey), { code: 'E_KEY_INVALID', message: 'envelope was not sealed to this broker key' });
  // Even with the key id forged to match, the box does not open.
  const forged = { ...env, recipientKeyId: other.keyId };
  t.throws(() => openEnvelope(forged, other.secretKey), { code: 'E_KEY_INVALID', message: /failed authentication/ });
});

test('a tampered ciphertext, nonce or ephemeral key fails authentication', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  const flip = (b64: string) => {
    const b = Buffer.from(b64, 'base64');
    b[b.length - 1]! ^= 1;
    return b.toString('base64');
  };
  for (const field of ['ciphertext', 'nonce', 'ephemeralPublicKey'] as const) {
    t.throws(() => openEnvelope({ ...env, [field]: flip(env[field]) }, broker.secretKey), { code: 'E_KEY_INVALID', message: /failed authentication/ }, field);
  }
});

test('a tampered identity or keyName in the clear wrapper is detected', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  const tampered: KeyEnvelope[] = [
    { ...env, keyName: 'other' },
    { ...env, identity: { ...env.identity, mrenclave: 'ee'.repeat(32) } },
    { ...env, identity: { ...env.identity, mrsigner: 'ee'.repeat(32) } },
    { ...env, identity: { ...env.identity, isvprodid: 8 } },
    { ...env, identity: { ...env.identity, isvsvn: 4 } },
    { ...env, identity: { ...env.identity, debug: true } },
  ];
  for (const e of tampered) {
    t.throws(() => openEnvelope(e, broker.secretKey), { code: 'E_KEY_INVALID', message: /keyName or identity was modified/ });
  }
});

test('parseEnvelope rejects malformed envelopes with E_CONFIG', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY }) as unknown as Record<string, unknown>;
  const bads: unknown[] = [
    null,
    [],
    { ...env, version: 2 },
    { ...env, algorithm: 'rsa' },
    { ...env, recipientKeyId: 'ab' },
    { ...env, nonce: Buffer.alloc(12).toString('base64') },
    { ...env, ciphertext: '!!' },
    { ...env, keyName: '' },
    { ...env, imageDigest: 'latest' },
    { ...env, identity: { ...(env.identity as object), isvsvn: 70000 } },
    { ...env, identity: { ...(env.identity as object), mrenclave: 'xyz' } },
  ];
  for (const b of bads) t.throws(() => parseEnvelope(b), { code: 'E_CONFIG' });
});

test('sealing checks its inputs', (t) => {
  const broker = generateBrokerKeyPair();
  t.throws(() => sealDataKey(key(), broker.publicKey.subarray(0, 31), { keyName: 'k', identity: IDENTITY }), { code: 'E_KEY_INVALID' });
  t.throws(() => sealDataKey(key(), broker.publicKey, { keyName: '', identity: IDENTITY }), { code: 'E_USAGE' });
  t.throws(() => sealDataKey(key(), broker.publicKey, { keyName: 'k', identity: { ...IDENTITY, isvProdId: -1 } }), { code: 'E_USAGE' });
});

test('no serialisation of envelopes, opened results, broker keys or errors contains the key', (t) => {
  const broker = generateBrokerKeyPair();
  const env = sealDataKey(key(), broker.publicKey, { keyName: 'default', identity: IDENTITY });
  const opened = openEnvelope(env, broker.secretKey);
  const secretB64 = broker.secretKey.expose().toString('base64');
  const errors: string[] = [];
  for (const f of [() => openEnvelope(env, generateBrokerKeyPair().secretKey), () => openEnvelope({ ...env, keyName: 'x' }, broker.secretKey)]) {
    try {
      f();
    } catch (err) {
      errors.push(`${(err as CconvError).message} ${(err as CconvError).hint ?? ''} ${inspect(err)}`);
    }
  }
  t.is(errors.length, 2);
  const outputs = [JSON.stringify(env), inspect(env), JSON.stringify(opened), inspect(opened, { depth: 5 }), JSON.stringify(broker), inspect(broker), ...errors];
  for (const out of outputs) {
    t.false(leaks(out), out);
    t.false(out.includes(secretB64), out);
  }
});

test('broker key files: JSON, modes 0600/0644, load back, refuse overwrite, detect damage', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-broker-'));
  const pair = generateBrokerKeyPair();
  const files = await writeBrokerKeyFiles(dir, pair);
  t.deepEqual(files, { secretKeyFile: join(dir, 'broker.key'), publicKeyFile: join(dir, 'broker.pub') });
  t.is((await stat(files.secretKeyFile)).mode & 0o777, 0o600);
  t.is((await stat(files.publicKeyFile)).mode & 0o777, 0o644);
  const pub = JSON.parse(await readFile(files.publicKeyFile, 'utf8'));
  t.deepEqual(Object.keys(pub), ['version', 'type', 'algorithm', 'keyId', 'publicKey']);
  t.is(pub.keyId, pair.keyId);
  t.false((await readFile(files.publicKeyFile, 'utf8')).includes(pair.secretKey.expose().toString('base64')));
  t.deepEqual(Buffer.from(await loadBrokerPublicKey(files.publicKeyFile)), Buffer.from(pair.publicKey));
  const loaded = await loadBrokerSecretKey(files.secretKeyFile);
  t.true(loaded.secretKey.equals(pair.secretKey));
  t.is(loaded.keyId, pair.keyId);
  // A bare base64 public key works too.
  await writeFile(join(dir, 'bare.pub'), `${Buffer.from(pair.publicKey).toString('base64')}\n`);
  t.deepEqual(Buffer.from(await loadBrokerPublicKey(join(dir, 'bare.pub'))), Buffer.from(pair.publicKey));
  await t.throwsAsync(writeBrokerKeyFiles(dir, generateBrokerKeyPair()), { code: 'E_IO' });
  const doc = JSON.parse(await readFile(files.secretKeyFile, 'utf8'));
  doc.publicKey = Buffer.from(nacl.box.keyPair().publicKey).toString('base64');
  await writeFile(join(dir, 'damaged.key'), JSON.stringify(doc));
  await t.throwsAsync(loadBrokerSecretKey(join(dir, 'damaged.key')), { code: 'E_KEY_INVALID', message: /does not belong/ });
  await t.throwsAsync(loadBrokerSecretKey(files.publicKeyFile), { code: 'E_KEY_INVALID' });
});
