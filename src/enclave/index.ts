/**
 * enclave/: SGX SIGSTRUCT build and parse, MRSIGNER, signers (PEM key file, external command,
 * two-step export/import) and signing-key generation.
 */
export {
  buildSigstruct,
  parseSigstruct,
  signingData,
  SIGSTRUCT_SIZE,
  SIGSTRUCT_OFFSETS,
  SIGSTRUCT_HEADER,
  SIGSTRUCT_HEADER2,
  SGX_FLAGS_DEBUG,
  SGX_FLAGS_MASK_CONST,
  SGX_XFRM_MASK_CONST,
  SGX_MISCSELECT_MASK_CONST,
} from './sigstruct.ts';
export type { Sigstruct, SigstructInit } from './sigstruct.ts';
export {
  parseSigstructDate,
  formatSigstructDate,
  defaultSigstructDate,
  checkSigstructDate,
} from './date.ts';
export type { SigstructDate, DefaultDateOptions } from './date.ts';
export { sigstructToJson, sigstructSummary, sigstructMrsigner } from './view.ts';
export type { SigstructJson, SigstructSummary } from './view.ts';
export { checkSgxKey, computeQ1Q2, mrsignerOf, SGX_RSA_KEY_BITS, SGX_RSA_PUBLIC_EXPONENT } from './rsa.ts';
export type { SignerPublicKey, SgxPublicKey } from './rsa.ts';
export { keyObjectSigner, pemFileSigner, loadPrivateKeyPem } from './signer.ts';
export type { Signer, PemSignerOptions } from './signer.ts';
export { externalCommandSigner, decodeSignature } from './external-signer.ts';
export type { ExternalSignerOptions, SignatureEncoding } from './external-signer.ts';
export { signSigstruct, buildUnsignedSigstruct, attachSignature, verifySigstruct } from './sign.ts';
export type {
  SigstructAttributes,
  SigstructRequest,
  SignSigstructOptions,
  SignedSigstruct,
  VerifiedSigstruct,
} from './sign.ts';
export { exportSigningData, importSignature } from './two-step.ts';
export type { ExportPaths, ExportedSigningData } from './two-step.ts';
export { generateSigningKey } from './keygen.ts';
export type { KeygenOptions, GeneratedKey } from './keygen.ts';
export {
  gramineSign,
  measureManifestFile,
  exportSigningFiles,
  importSignatureFiles,
  viewSigstructFile,
  enclaveIdentityOf,
  identityAttributes,
} from './gramine-sign.ts';
export type {
  EnclaveIdentity,
  IdentityAttributes,
  UnsignedIdentity,
  ManifestInputs,
  GramineSignOptions,
  SignedFileResult,
  ExportFilesOptions,
  ExportFilesResult,
  ImportFilesOptions,
  SigstructView,
} from './gramine-sign.ts';
export { readInputFile, openSigner, resolveSigningDate, defaultSigningKeyPath, createSigningKeyFile } from './sign-setup.ts';
export type { SignerChoice } from './sign-setup.ts';
