/**
 * AES-128-CMAC (RFC 4493 / NIST SP 800-38B) on top of Node's AES, and the NIST SP 800-108
 * counter-mode KDF that Gramine uses to turn the wrap key (KDK) and the per-file nonce into the
 * key of the metadata node.
 */
import { createCipheriv } from 'node:crypto';
import { CconvError } from '../../errors.ts';
import { PF_KEY_SIZE, PF_NONCE_SIZE } from './format.ts';

const BLOCK = 16;
const RB = 0x87;

/** Doubling in GF(2^128) as used for the CMAC subkeys. */
function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((b[i]! << 1) | (i + 1 < BLOCK ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) out[BLOCK - 1]! ^= RB;
  return out;
}

function checkKey(key: Buffer): void {
  if (key.length !== PF_KEY_SIZE) throw new CconvError('E_USAGE', `AES-128 key must be 16 bytes, got ${key.length}`);
}

/** CMAC subkeys K1, K2 of an AES-128 key (exported for the RFC 4493 test). */
export function cmacSubkeys(key: Buffer): { k1: Buffer; k2: Buffer } {
  checkKey(key);
  const ecb = createCipheriv('aes-128-ecb', key, null);
  ecb.setAutoPadding(false);
  const l = ecb.update(Buffer.alloc(BLOCK));
  const k1 = dbl(l);
  return { k1, k2: dbl(k1) };
}

/**
 * AES-128-CMAC of `message` under `key`: a 16-byte tag. The CBC-MAC chain is computed with
 * AES-128-CBC and a zero IV over the message whose last block was masked with K1 (complete block)
 * or padded with 0x80 00.. and masked with K2; the tag is the last ciphertext block.
 */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  const { k1, k2 } = cmacSubkeys(key);
  const n = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const m = Buffer.alloc(n * BLOCK);
  message.copy(m);
  if (!complete) m[message.length] = 0x80;
  const mask = complete ? k1 : k2;
  const last = (n - 1) * BLOCK;
  for (let i = 0; i < BLOCK; i++) m[last + i]! ^= mask[i]!;
  const cbc = createCipheriv('aes-128-cbc', key, Buffer.alloc(BLOCK));
  cbc.setAutoPadding(false);
  const out = cbc.update(m);
  return Buffer.from(out.subarray(out.length - BLOCK));
}

/** Label of the metadata key derivation. */
export const METADATA_KEY_LABEL = 'SGX-PROTECTED-FS-METADATA-KEY';

/**
 * The 104-byte packed KDF input: le32 counter = 1, the label NUL-padded to 64 bytes, the 32-byte
 * nonce, le32 output length in bits = 128.
 */
export function kdfInput(nonce: Buffer): Buffer {
  if (nonce.length !== PF_NONCE_SIZE) throw new CconvError('E_INTERNAL', 'metadata nonce must be 32 bytes');
  const b = Buffer.alloc(4 + 64 + PF_NONCE_SIZE + 4);
  b.writeUInt32LE(1, 0);
  b.write(METADATA_KEY_LABEL, 4, 'latin1');
  nonce.copy(b, 68);
  b.writeUInt32LE(0x80, 100);
  return b;
}

/** metadata_key = AES-128-CMAC(wrapKey, kdfInput(nonce)). */
export function deriveMetadataKey(wrapKey: Buffer, nonce: Buffer): Buffer {
  return aesCmac(wrapKey, kdfInput(nonce));
}
