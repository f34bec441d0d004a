/**
 * Generation of an SGX enclave signing key, as gramine-sgx-gen-private-key makes it: RSA-3072,
 * public exponent 3, unencrypted PEM in the traditional PKCS#1 form (`BEGIN RSA PRIVATE KEY`).
 */
import { createPrivateKey, generateKeyPair } from 'node:crypto';
import { lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { CconvError, wrapIoError } from '../errors.ts';
import { checkSgxKey, mrsignerOf, SGX_RSA_KEY_BITS, SGX_RSA_PUBLIC_EXPONENT } from './rsa.ts';
import { atomicWriteFile } from '../files.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Options of generateSigningKey. */
export interface KeygenOptions {
  /** Replace an existing file (default false: an existing file is E_IO and stays untouched). */
  force?: boolean;
}

/** What generateSigningKey made; the key itself is only in the file. */
export interface GeneratedKey {
  path: string;
  /** MRSIGNER enclaves signed with this key will have, lowercase hex. */
  mrsigner: string;
}

/**
 * Generates a new signing key and writes it to `path` with mode 0600: to a temporary name in the
 * same directory first, then renamed (or hard-linked when not `force`, so an existing file is
 * never replaced even by a concurrent writer). Missing parent directories are created with
 * mode 0700. Errors: E_IO. The key never appears in errors or events.
 */
export async function generateSigningKey(path: string, options: KeygenOptions = {}): Promise<GeneratedKey> {
  const force = options.force ?? false;
  // Fail fast before the (slow) generation; atomicWriteFile still guards against a race.
  if (!force && (await exists(path))) {
    throw new CconvError('E_IO', `refusing to overwrite existing file ${path}`, { hint: 'remove it or pass --force' });
  }
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: SGX_RSA_KEY_BITS,
    publicExponent: SGX_RSA_PUBLIC_EXPONENT,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const { modulus } = checkSgxKey(createPrivateKey(privateKey));
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw wrapIoError(err, `cannot create the directory of ${path}`);
  }
  await atomicWriteFile(path, privateKey, { mode: 0o600, overwrite: force });
  return { path, mrsigner: mrsignerOf(modulus) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw wrapIoError(err, `cannot check ${path}`);
  }
}
