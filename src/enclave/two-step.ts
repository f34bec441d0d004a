/**
 * Two-step (offline) signing: step 1 writes the bytes to sign and the unsigned SIGSTRUCT; the
 * user signs the bytes elsewhere (HSM, air-gapped host), e.g.
 * `openssl dgst -sha256 -sign key.pem -out app.sig.bin signing-data.bin`; step 2 attaches the
 * signature after verifying it.
 */
import { attachSignature, buildUnsignedSigstruct, type SignedSigstruct, type SigstructRequest } from './sign.ts';
import type { SignerPublicKey } from './rsa.ts';
import { signingData } from './sigstruct.ts';
import { atomicWriteFile } from '../files.ts';

/** Where exportSigningData writes its two files. */
export interface ExportPaths {
  /** The 256 bytes to sign (RSASSA-PKCS1-v1_5, SHA-256 over these raw bytes). */
  signingData: string;
  /** The 1808-byte unsigned SIGSTRUCT (signature fields zero); keep it for importSignature. */
  unsigned: string;
  /** Replace existing files (default false: an existing file is E_IO). */
  overwrite?: boolean;
}

/** The bytes exportSigningData wrote. */
export interface ExportedSigningData {
  signingData: Buffer;
  unsigned: Buffer;
}

/**
 * Step 1: builds the unsigned SIGSTRUCT for `req` and writes it and its signing data, each
 * atomically with mode 0644 (neither is secret). Errors: E_USAGE (bad request), E_IO.
 */
export async function exportSigningData(req: SigstructRequest, paths: ExportPaths): Promise<ExportedSigningData> {
  const unsigned = buildUnsignedSigstruct(req);
  const data = signingData(unsigned);
  const overwrite = paths.overwrite ?? false;
  await atomicWriteFile(paths.unsigned, unsigned, { mode: 0o644, overwrite });
  await atomicWriteFile(paths.signingData, data, { mode: 0o644, overwrite });
  return { signingData: data, unsigned };
}

/**
 * Step 2: attaches `signature` (384 raw bytes, big-endian, as openssl writes it; decode base64
 * or hex first with decodeSignature) to the unsigned SIGSTRUCT from step 1. The key must be
 * RSA-3072 with e = 3 (E_KEY_INVALID) and the signature must verify (E_SIGNATURE_INVALID); a
 * malformed unsigned SIGSTRUCT is E_SIGSTRUCT_INVALID.
 */
export function importSignature(unsigned: Buffer, signature: Buffer, publicKey: SignerPublicKey): SignedSigstruct {
  return attachSignature(unsigned, signature, publicKey, 'the imported file');
}
