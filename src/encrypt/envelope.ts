/**
 * Key envelopes: a build's data key sealed to a key broker's X25519 public key with NaCl `box`
 * (X25519 + XSalsa20-Poly1305, tweetnacl), so only the broker can recover it, and only together
 * with the enclave identity and key_name it was sealed for.
 *
 * Envelope (JSON, fields in this order):
 *   version             1
 *   algorithm           "x25519-xsalsa20-poly1305"
 *   recipientKeyId      sha256 of the broker's 32-byte public key, all 64 hex digits
 *   ephemeralPublicKey  base64: a fresh sender key pair per envelope (its secret half is dropped)
 *   nonce               base64, 24 random bytes
 *   ciphertext          base64: box(sealed payload)
 *   keyName             Gramine key_name of the encrypted mounts
 *   identity            { mrenclave, mrsigner, isvprodid, isvsvn, debug }
 *   imageDigest         null until the image is assembled (withImageDigest); NOT authenticated
 *
 * Sealed payload = the 16 key bytes || UTF-8 JSON {"version":1,"keyName":...,"identity":{...}}.
 * keyName and identity are therefore authenticated: openEnvelope compares them with the clear
 * wrapper and fails (E_KEY_INVALID) if they differ, so a tampered wrapper cannot make a broker
 * release the key under another identity.
 */
import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { CconvError } from '../errors.ts';
import { SecretKey, DATA_KEY_SIZE } from './keys.ts';
import { checkReleaseIdentity } from './release/identity.ts';
import type { ReleaseIdentity } from './release/types.ts';

/** The envelope algorithm name. */
export const ENVELOPE_ALGORITHM = 'x25519-xsalsa20-poly1305';

/** The enclave identity as an envelope carries it (lowercase hex measurements). */
export interface EnvelopeIdentity {
  mrenclave: string;
  mrsigner: string;
  isvprodid: number;
  isvsvn: number;
  debug: boolean;
}

/** A key envelope (see module comment). */
export interface KeyEnvelope {
  version: 1;
  algorithm: typeof ENVELOPE_ALGORITHM;
  recipientKeyId: string;
  ephemeralPublicKey: string;
  nonce: string;
  ciphertext: string;
  keyName: string;
  identity: EnvelopeIdentity;
  imageDigest: string | null;
}

/** What openEnvelope recovers. */
export interface OpenedEnvelope {
  key: SecretKey;
  keyName: string;
  identity: EnvelopeIdentity;
}

/** Key id of a broker public key: lowercase hex sha256 of its 32 raw bytes. */
export function brokerKeyId(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex');
}

function envelopeIdentity(id: ReleaseIdentity): EnvelopeIdentity {
  const c = checkReleaseIdentity(id);
  return { mrenclave: c.mrenclave, mrsigner: c.mrsigner, isvprodid: c.isvProdId, isvsvn: c.isvSvn, debug: c.debug };
}

function sealedMeta(keyName: string, identity: EnvelopeIdentity): Buffer {
  const { mrenclave, mrsigner, isvprodid, isvsvn, debug } = identity;
  return Buffer.from(JSON.stringify({ version: 1, keyName, identity: { mrenclave, mrsigner, isvprodid, isvsvn, debug } }), 'utf8');
}

/**
 * Seals `key` to the broker public key `brokerPublicKey` (32 bytes) for `identity` and `keyName`.
 * Each call draws a new ephemeral key pair and nonce. E_KEY_INVALID for a bad public key or data
 * key size, E_USAGE for a bad identity or empty keyName.
 */
export function sealDataKey(key: SecretKey, brokerPublicKey: Uint8Array, opts: { keyName: string; identity: ReleaseIdentity }): KeyEnvelope {
  if (brokerPublicKey.length !== nacl.box.publicKeyLength) {
    throw new CconvError('E_KEY_INVALID', `broker public key must be ${nacl.box.publicKeyLength} bytes`);
  }
  if (key.length !== DATA_KEY_SIZE) throw new CconvError('E_KEY_INVALID', `data key must be ${DATA_KEY_SIZE} bytes`);
  if (typeof opts.keyName !== 'string' || opts.keyName === '') throw new CconvError('E_USAGE', 'keyName must be a non-empty string');
  const identity = envelopeIdentity(opts.identity);
  const plain = Buffer.concat([key.expose(), sealedMeta(opts.keyName, identity)]);
  const eph = nacl.box.keyPair();
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const box = nacl.box(plain, nonce, brokerPublicKey, eph.secretKey);
  plain.fill(0);
  eph.secretKey.fill(0);
  return {
    version: 1,
    algorithm: ENVELOPE_ALGORITHM,
    recipientKeyId: brokerKeyId(brokerPublicKey),
    ephemeralPublicKey: Buffer.from(eph.publicKey).toString('base64'),
    nonce: Buffer.from(nonce).toString('base64'),
    ciphertext: Buffer.from(box).toString('base64'),
    keyName: opts.keyName,
    identity,
    imageDigest: null,
  };
}

/** A copy of `envelope` with its image digest set ("sha256:<64 hex>"; E_DIGEST_INVALID otherwise). */
export function withImageDigest(envelope: KeyEnvelope, digest: string): KeyEnvelope {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new CconvError('E_DIGEST_INVALID', `not a sha256 digest: ${digest}`);
  return { ...envelope, identity: { ...envelope.identity }, imageDigest: digest };
}

function bad(why: string): CconvError {
  return new CconvError('E_CONFIG', `key envelope: ${why}`);
}

function b64(v: unknown, name: string, len?: number): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw bad(`${name} must be base64`);
  const out = Buffer.from(v, 'base64');
  if (len !== undefined && out.length !== len) throw bad(`${name} must decode to ${len} bytes`);
  return new Uint8Array(out);
}

/** Validates parsed JSON as a KeyEnvelope (E_CONFIG naming the bad field). */
export function parseEnvelope(json: unknown): KeyEnvelope {
  const e = json as Record<string, unknown>;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad('not a JSON object');
  if (e.version !== 1) throw bad(`unsupported version ${JSON.stringify(e.version)}`);
  if (e.algorithm !== ENVELOPE_ALGORITHM) throw bad(`unsupported algorithm ${JSON.stringify(e.algorithm)}`);
  if (typeof e.recipientKeyId !== 'string' || !/^[0-9a-f]{64}$/.test(e.recipientKeyId)) throw bad('recipientKeyId must be 64 hex digits');
  b64(e.ephemeralPublicKey, 'ephemeralPublicKey', nacl.box.publicKeyLength);
  b64(e.nonce, 'nonce', nacl.box.nonceLength);
  b64(e.ciphertext, 'ciphertext');
  if (typeof e.keyName !== 'string' || e.keyName === '') throw bad('keyName must be a non-empty string');
  if (e.imageDigest !== null && (typeof e.imageDigest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(e.imageDigest))) {
    throw bad('imageDigest must be null or sha256:<64 hex>');
  }
  const id = e.identity as Record<string, unknown>;
  if (typeof id !== 'object' || id === null) throw bad('identity must be an object');
  let identity: EnvelopeIdentity;
  try {
    identity = envelopeIdentity({
      mrenclave: id.mrenclave as string,
      mrsigner: id.mrsigner as string,
      isvProdId: id.isvprodid as number,
      isvSvn: id.isvsvn as number,
      debug: id.debug as boolean,
    });
  } catch (err) {
    throw bad((err as Error).message);
  }
  return {
    version: 1,
    algorithm: ENVELOPE_ALGORITHM,
    recipientKeyId: e.recipientKeyId,
    ephemeralPublicKey: e.ephemeralPublicKey as string,
    nonce: e.nonce as string,
    ciphertext: e.ciphertext as string,
    keyName: e.keyName,
    identity,
    imageDigest: e.imageDigest as string | null,
  };
}

/**
 * Opens an envelope with the broker's secret key (32 bytes). E_KEY_INVALID when the envelope was
 * sealed to another broker key (recipientKeyId differs), when the box fails authentication
 * (ciphertext, nonce or ephemeral key modified), or when the clear keyName/identity differ from the
 * sealed ones (wrapper modified). The message never contains key material.
 */
export function openEnvelope(envelope: KeyEnvelope, brokerSecretKey: SecretKey): OpenedEnvelope {
  const env = parseEnvelope(envelope);
  if (brokerSecretKey.length !== nacl.box.secretKeyLength) {
    throw new CconvError('E_KEY_INVALID', `broker secret key must be ${nacl.box.secretKeyLength} bytes`);
  }
  const pair = nacl.box.keyPair.fromSecretKey(brokerSecretKey.expose());
  pair.secretKey.fill(0);
  const ourId = brokerKeyId(pair.publicKey);
  if (ourId !== env.recipientKeyId) {
    throw new CconvError('E_KEY_INVALID', 'envelope was not sealed to this broker key', {
      hint: `the envelope's recipientKeyId is ${env.recipientKeyId}; this broker key's id is ${ourId}`,
    });
  }
  const plain = nacl.box.open(b64(env.ciphertext, 'ciphertext'), b64(env.nonce, 'nonce'), b64(env.ephemeralPublicKey, 'ephemeralPublicKey'), brokerSecretKey.expose());
  if (plain === null) {
    throw new CconvError('E_KEY_INVALID', 'envelope failed authentication: its ciphertext, nonce or ephemeral key was modified');
  }
  try {
    if (plain.length <= DATA_KEY_SIZE) throw new CconvError('E_KEY_INVALID', 'envelope payload is too short');
    const meta = Buffer.from(plain.subarray(DATA_KEY_SIZE));
    const expected = sealedMeta(env.keyName, env.identity);
    if (!meta.equals(expected)) {
      throw new CconvError('E_KEY_INVALID', 'envelope wrapper does not match its sealed contents: keyName or identity was modified', {
        hint: 'do not release this key; obtain the envelope again from the build output',
      });
    }
    return { key: new SecretKey(plain.subarray(0, DATA_KEY_SIZE)), keyName: env.keyName, identity: env.identity };
  } finally {
    plain.fill(0);
  }
}
