/**
 * The one interface every SIGSTRUCT signer implements, and the local-key signers (a KeyObject,
 * a PEM file). The external-command signer is in external-signer.ts.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../errors.ts';
import { checkSgxKey, type SignerPublicKey } from './rsa.ts';

/**
 * Signs SIGSTRUCT signing data. `sign(data)` gets the raw 256 signing bytes (not a hash) and
 * returns the RSASSA-PKCS1-v1_5 SHA-256 signature: 384 bytes, big-endian, as node and openssl
 * produce it. `publicKey()` gives the key callers verify that signature with. Callers always
 * verify; a signer need not.
 */
export interface Signer {
  publicKey(): Promise<SignerPublicKey>;
  sign(data: Buffer): Promise<Buffer>;
}

/**
 * A signer over an in-memory private key. The key is checked at once (RSA-3072, e = 3, else
 * E_KEY_INVALID).
 */
export function keyObjectSigner(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private') {
    throw new CconvError('E_KEY_INVALID', `expected a private key, found a ${privateKey.type} key`);
  }
  const { key: publicKey } = checkSgxKey(privateKey);
  return {
    publicKey: async () => publicKey,
    sign: async (data) => sign('sha256', data, privateKey),
  };
}

/** Options of pemFileSigner. */
export interface PemSignerOptions {
  /**
   * Passphrase of an encrypted PEM, as read by the caller (from stdin or an environment
   * variable, never a command-line argument). Ignored for an unencrypted key.
   */
  passphrase?: string;
}

/**
 * Reads an RSA private key from a PEM file: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what
 * gramine-sgx-gen-private-key writes), PKCS#8 (`BEGIN PRIVATE KEY`) or their encrypted forms.
 * A missing file is E_IO; an unparseable key, a missing or wrong passphrase, or a key that is
 * not RSA-3072 with e = 3 is E_KEY_INVALID. Messages never contain the passphrase or key bytes.
 */
export async function pemFileSigner(path: string, options: PemSignerOptions = {}): Promise<Signer> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (err) {
    throw wrapIoError(err, `cannot read signing key ${path}`);
  }
  return keyObjectSigner(loadPrivateKeyPem(pem, path, options.passphrase));
}

/**
 * Parses a PEM private key (see pemFileSigner for the accepted forms); `label` names it in
 * messages. Throws E_KEY_INVALID without echoing secrets.
 */
export function loadPrivateKeyPem(pem: Buffer, label: string, passphrase?: string): KeyObject {
  const text = pem.toString('latin1');
  const encrypted = /BEGIN ENCRYPTED PRIVATE KEY|Proc-Type:\s*4,ENCRYPTED/.test(text);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new CconvError('E_KEY_INVALID', `${label} is not a PEM private key`, {
      hint: 'expected "BEGIN RSA PRIVATE KEY" (PKCS#1) or "BEGIN PRIVATE KEY" (PKCS#8)',
    });
  }
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new CconvError('E_KEY_INVALID', `signing key ${label} is encrypted and no passphrase was given`, {
      hint: 'give the passphrase on stdin or in the environment',
    });
  }
  try {
    // Node passes its own passphrase callback to OpenSSL, so this never prompts on a TTY.
    return createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase ?? '' });
  } catch {
    // The OpenSSL error (bad decrypt, ...) is dropped on purpose: it adds nothing the user can
    // act on, and a key-parsing error is the one place where we would rather say too little.
    throw new CconvError(
      'E_KEY_INVALID',
      encrypted
        ? `cannot decrypt signing key ${label}: wrong passphrase or damaged key`
        : `cannot parse signing key ${label}`,
    );
  }
}
