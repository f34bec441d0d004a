/**
 * Sigstore signing keys for offline / air-gapped use: ECDSA P-256, private key as unencrypted
 * PKCS#8 PEM (mode 0600) with the SPKI public key next to it (`PATH.pub`, mode 0644). The key id
 * (the bundle's public-key hint) is the lowercase hex sha256 of the DER SPKI.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../errors.ts';
import { atomicWriteFile } from '../files.ts';

/** A generated key: where it went and its id. */
export interface SigstoreKeyFiles {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

/** The key id of a public key: hex sha256 of its DER SPKI. */
export function sigstoreKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Creates an ECDSA P-256 key at `path` (0600) and `path.pub`; an existing file is E_IO unless `force`. */
export async function generateSigstoreKey(path: string, options: { force?: boolean } = {}): Promise<SigstoreKeyFiles> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const force = options.force === true;
  await atomicWriteFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, overwrite: force });
  await atomicWriteFile(`${path}.pub`, publicKey.export({ type: 'spki', format: 'pem' }) as string, { mode: 0o644, overwrite: force });
  return { privateKeyPath: path, publicKeyPath: `${path}.pub`, keyId: sigstoreKeyId(publicKey) };
}

function checkP256(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CconvError('E_KEY_INVALID', `${path} is not an ECDSA P-256 key`, { hint: 'create one with cconv attest keygen PATH' });
  }
  return key;
}

async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading key ${path}`);
  }
}

/** Loads an unencrypted P-256 private key (PKCS#8 or SEC1 PEM). Errors never quote the key. */
export async function loadSigstorePrivateKey(path: string): Promise<KeyObject> {
  const pem = await readPem(path);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new CconvError('E_KEY_INVALID', `${path} is not an unencrypted PEM private key`, { cause: new Error((err as Error).message) });
  }
  return checkP256(key, path);
}

/** Loads a P-256 public key from a PEM public key, certificate-less; a private key file gives its public half. */
export async function loadSigstorePublicKey(path: string): Promise<KeyObject> {
  const pem = await readPem(path);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new CconvError('E_KEY_INVALID', `${path} is not a PEM public key`, { cause: new Error((err as Error).message) });
  }
  return checkP256(key, path);
}
