/**
 * Key-broker key pairs (X25519, for key envelopes) and their files.
 *
 * broker.key (mode 0600), JSON:
 *   { "version": 1, "type": "cconv-broker-secret-key", "algorithm": "x25519",
 *     "keyId": <sha256 hex of the public key>, "publicKey": <base64 32 bytes>, "secretKey": <base64 32 bytes> }
 * broker.pub (mode 0644), JSON:
 *   { "version": 1, "type": "cconv-broker-public-key", "algorithm": "x25519", "keyId": ..., "publicKey": ... }
 * A public key may also be given as a file holding only the base64 of its 32 bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { CconvError, wrapIoError } from '../errors.ts';
import { brokerKeyId } from './envelope.ts';
import { atomicWriteFile } from '../files.ts';
import { SecretKey } from './keys.ts';

/** A broker key pair; the secret half never prints (SecretKey). */
export interface BrokerKeyPair {
  publicKey: Uint8Array;
  secretKey: SecretKey;
  keyId: string;
}

/** A fresh X25519 key pair from the CSPRNG. */
export function generateBrokerKeyPair(): BrokerKeyPair {
  const pair = nacl.box.keyPair();
  const secretKey = new SecretKey(pair.secretKey);
  pair.secretKey.fill(0);
  return { publicKey: pair.publicKey, secretKey, keyId: brokerKeyId(pair.publicKey) };
}

/** The broker.pub JSON text (trailing newline). */
export function brokerPublicKeyJson(publicKey: Uint8Array): string {
  const doc = { version: 1, type: 'cconv-broker-public-key', algorithm: 'x25519', keyId: brokerKeyId(publicKey), publicKey: Buffer.from(publicKey).toString('base64') };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Writes `broker.key` (0600) and `broker.pub` (0644) into `dir` (which must exist), atomically.
 * Existing files are E_IO unless `overwrite`. Returns the two paths.
 */
export async function writeBrokerKeyFiles(dir: string, pair: BrokerKeyPair, options: { overwrite?: boolean } = {}): Promise<{ secretKeyFile: string; publicKeyFile: string }> {
  const secretKeyFile = join(dir, 'broker.key');
  const publicKeyFile = join(dir, 'broker.pub');
  const doc = {
    version: 1,
    type: 'cconv-broker-secret-key',
    algorithm: 'x25519',
    keyId: pair.keyId,
    publicKey: Buffer.from(pair.publicKey).toString('base64'),
    secretKey: pair.secretKey.expose().toString('base64'),
  };
  const overwrite = options.overwrite ?? false;
  await atomicWriteFile(secretKeyFile, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, overwrite });
  await atomicWriteFile(publicKeyFile, brokerPublicKeyJson(pair.publicKey), { mode: 0o644, overwrite });
  return { secretKeyFile, publicKeyFile };
}

function keyBytes(v: unknown, what: string, file: string): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(v.trim())) {
    throw new CconvError('E_KEY_INVALID', `${file}: ${what} is not the base64 of 32 bytes`);
  }
  return new Uint8Array(Buffer.from(v.trim(), 'base64'));
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `cannot read ${file}`);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a broker public key: a broker.pub (or broker.key) JSON, or one base64 line. */
export async function loadBrokerPublicKey(file: string): Promise<Uint8Array> {
  const text = await readText(file);
  const doc = parseJson(text);
  return keyBytes(doc === undefined ? text : doc.publicKey, 'publicKey', file);
}

/**
 * Reads broker.key and checks that its public key matches its secret key. E_KEY_INVALID when
 * malformed or inconsistent; the message never shows key bytes.
 */
export async function loadBrokerSecretKey(file: string): Promise<BrokerKeyPair> {
  const text = await readText(file);
  const doc = parseJson(text);
  if (doc === undefined || doc.type !== 'cconv-broker-secret-key' || doc.algorithm !== 'x25519') {
    throw new CconvError('E_KEY_INVALID', `${file}: not a cconv broker secret key file`, { hint: 'create one with `cconv keys gen-broker --out DIR`' });
  }
  const raw = keyBytes(doc.secretKey, 'secretKey', file);
  const secretKey = new SecretKey(raw);
  raw.fill(0);
  const derived = nacl.box.keyPair.fromSecretKey(secretKey.expose());
  derived.secretKey.fill(0);
  const stated = keyBytes(doc.publicKey, 'publicKey', file);
  if (!Buffer.from(stated).equals(Buffer.from(derived.publicKey))) {
    throw new CconvError('E_KEY_INVALID', `${file}: publicKey does not belong to secretKey (file damaged?)`);
  }
  return { publicKey: derived.publicKey, secretKey, keyId: brokerKeyId(derived.publicKey) };
}
