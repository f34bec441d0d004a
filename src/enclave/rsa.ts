/**
 * RSA helpers for SGX signing: key checks (RSA, 3072-bit, e = 3), big-integer conversions,
 * RSASSA-PKCS1-v1_5/SHA-256 verification, Q1/Q2 and MRSIGNER. Pure code over node:crypto.
 */
import { constants, createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { CconvError } from '../errors.ts';
import { SE_KEY_SIZE } from './sigstruct.ts';

/** SGX requires RSA-3072 ... */
export const SGX_RSA_KEY_BITS = 3072;
/** ... with public exponent 3. */
export const SGX_RSA_PUBLIC_EXPONENT = 3;

/**
 * A signer's public key: a node KeyObject (public or private), or the bare big-endian modulus
 * of an RSA key whose exponent is 3 (as some HSMs export it).
 */
export type SignerPublicKey = KeyObject | { modulus: Buffer };

/** A public key that passed the SGX checks. `modulus` is the number n. */
export interface SgxPublicKey {
  key: KeyObject;
  modulus: bigint;
}

/** Big-endian bytes to a non-negative bigint. */
export function bigintFromBE(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

/** A non-negative bigint to exactly `size` little-endian bytes; E_INTERNAL if it does not fit. */
export function bigintToLE(value: bigint, size = SE_KEY_SIZE): Buffer {
  const hex = value.toString(16);
  if (value < 0n || hex.length > size * 2) {
    throw new CconvError('E_INTERNAL', `integer does not fit in ${size} bytes`);
  }
  return Buffer.from(hex.padStart(size * 2, '0'), 'hex').reverse();
}

/** Little-endian bytes to a bigint. */
export function bigintFromLE(bytes: Buffer): bigint {
  return bigintFromBE(Buffer.from(bytes).reverse());
}

function keyInvalid(message: string): CconvError {
  return new CconvError('E_KEY_INVALID', message, {
    hint: 'SGX needs an RSA-3072 key with public exponent 3 (cconv keygen makes one)',
  });
}

/**
 * Checks that `input` is an RSA key with a 3072-bit modulus and public exponent exactly 3, and
 * returns its public half and modulus. Anything else (EC, Ed25519, RSA-PSS, 2048-bit,
 * e = 65537) is E_KEY_INVALID with a message naming what was found.
 */
export function checkSgxKey(input: SignerPublicKey): SgxPublicKey {
  let key: KeyObject;
  if ('modulus' in input && Buffer.isBuffer(input.modulus)) {
    try {
      key = createPublicKey({
        key: { kty: 'RSA', n: input.modulus.toString('base64url'), e: 'Aw' },
        format: 'jwk',
      });
    } catch (err) {
      throw new CconvError('E_KEY_INVALID', 'invalid RSA modulus', { cause: err });
    }
  } else {
    const obj = input as KeyObject;
    key = obj.type === 'private' ? createPublicKey(obj) : obj;
  }
  if (key.type !== 'public') throw keyInvalid(`expected an RSA key, found a ${key.type} key`);
  if (key.asymmetricKeyType !== 'rsa') {
    throw keyInvalid(`expected an RSA key, found ${key.asymmetricKeyType ?? 'an unknown'} key`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (details.modulusLength !== SGX_RSA_KEY_BITS) {
    throw keyInvalid(
      `RSA key is ${details.modulusLength ?? '?'}-bit, SGX requires ${SGX_RSA_KEY_BITS}-bit`,
    );
  }
  if (details.publicExponent !== BigInt(SGX_RSA_PUBLIC_EXPONENT)) {
    throw keyInvalid(
      `RSA public exponent is ${details.publicExponent ?? '?'}, SGX requires exactly ${SGX_RSA_PUBLIC_EXPONENT}`,
    );
  }
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.n !== 'string') throw keyInvalid('RSA key has no modulus');
  return { key, modulus: bigintFromBE(Buffer.from(jwk.n, 'base64url')) };
}

/**
 * True when `signature` (384 bytes, big-endian, as node and openssl write it) is a valid
 * RSASSA-PKCS1-v1_5 SHA-256 signature of `data` under `key`.
 */
export function verifyPkcs1Sha256(data: Buffer, signature: Buffer, key: KeyObject): boolean {
  if (signature.length !== SE_KEY_SIZE) return false;
  return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
}

/**
 * Throws E_SIGNATURE_INVALID unless `signature` verifies over `data`; `who` names the source
 * of the signature for the message.
 */
export function assertSignature(data: Buffer, signature: Buffer, key: KeyObject, who: string): void {
  if (signature.length !== SE_KEY_SIZE) {
    throw new CconvError(
      'E_SIGNATURE_INVALID',
      `signature from ${who} is ${signature.length} bytes, expected ${SE_KEY_SIZE}`,
    );
  }
  if (!verifyPkcs1Sha256(data, signature, key)) {
    throw new CconvError('E_SIGNATURE_INVALID', `signature from ${who} does not verify`, {
      hint: 'check that the signer uses the private key of the given public key, RSASSA-PKCS1-v1_5 with SHA-256 over the raw signing data',
    });
  }
}

/**
 * Q1 = floor(s^2 / n) and Q2 = floor((s^3 - Q1*s*n) / n), the helper values that let the CPU
 * check the signature with two multiplications (as Gramine's Sigstruct.sign computes them).
 */
export function computeQ1Q2(signature: bigint, modulus: bigint): { q1: bigint; q2: bigint } {
  const s2 = signature * signature;
  const q1 = s2 / modulus;
  const q2 = ((s2 % modulus) * signature) / modulus;
  return { q1, q2 };
}

/** MRSIGNER: sha256 of the 384-byte little-endian modulus, lowercase hex. */
export function mrsignerOf(modulus: bigint): string {
  return createHash('sha256').update(bigintToLE(modulus)).digest('hex');
}
