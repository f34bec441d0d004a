/**
 * AES-128-GCM as Gramine's protected files use it: an all-zero 12-byte IV, no AAD, 16-byte tag.
 *
 * Invariant that makes the fixed IV safe: every key is used for exactly ONE encryption. Each node
 * key is fresh from the CSPRNG (KeyPool) and the metadata key is derived from a fresh 32-byte nonce,
 * so no (key, IV) pair ever repeats. Never call gcmEncrypt twice with the same key.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { PF_IV_SIZE, PF_KEY_SIZE, PF_MAC_SIZE } from './format.ts';

const ZERO_IV = Buffer.alloc(PF_IV_SIZE);

/** Encrypts `plain` under `key` (used once, see invariant); returns ciphertext and tag. */
export function gcmEncrypt(key: Buffer, plain: Buffer): { ct: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-128-gcm', key, ZERO_IV);
  const ct = c.update(plain);
  c.final();
  return { ct, tag: c.getAuthTag() };
}

/** Decrypts and authenticates; returns null when the tag does not verify (wrong key or tampering). */
export function gcmDecrypt(key: Buffer, ct: Buffer, tag: Buffer): Buffer | null {
  const d = createDecipheriv('aes-128-gcm', key, ZERO_IV, { authTagLength: PF_MAC_SIZE });
  d.setAuthTag(tag);
  const plain = d.update(ct);
  try {
    d.final();
  } catch {
    plain.fill(0);
    return null;
  }
  return plain;
}

/**
 * Hands out fresh random 16-byte keys, drawing from the CSPRNG in batches of `batch`. Each key is
 * returned once (as a copy) and its bytes in the pool are zeroed.
 */
export class KeyPool {
  private readonly pool: Buffer;
  private pos: number;

  constructor(batch = 256) {
    this.pool = Buffer.alloc(PF_KEY_SIZE * batch);
    this.pos = this.pool.length;
  }

  /** A new random key, never returned before. */
  next(): Buffer {
    if (this.pos === this.pool.length) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const k = Buffer.from(this.pool.subarray(this.pos, this.pos + PF_KEY_SIZE));
    this.pool.fill(0, this.pos, this.pos + PF_KEY_SIZE);
    this.pos += PF_KEY_SIZE;
    return k;
  }
}

/**
 * The node keys of every protected file written by this process: one pool, so that a small file
 * (a few nodes) does not draw a whole batch from the CSPRNG (20,000 files drew 80 MB).
 */
export const nodeKeys = new KeyPool(4096);
