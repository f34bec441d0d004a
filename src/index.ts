/** The cconv library API; the CLI calls only these. */
export { inspectImage } from './inspect.ts';
export type { InspectFile, InspectLayer, InspectOptions, InspectResult } from './inspect.ts';
export {
  gramineSign,
  exportSigningFiles,
  importSignatureFiles,
  viewSigstructFile,
  openSigner,
  resolveSigningDate,
  defaultSigningKeyPath,
  createSigningKeyFile,
} from './enclave/index.ts';
export type {
  EnclaveIdentity,
  SignedFileResult,
  ExportFilesResult,
  SigstructView,
  SignerChoice,
  SignatureEncoding,
  GeneratedKey,
} from './enclave/index.ts';
export {
  encryptToFile,
  decryptFile,
  readPfInfo,
  parseHeader,
  nodeCounts,
  PF_NODE_SIZE,
  SecretKey,
  generateDataKey,
  parseDataKey,
  loadDataKey,
  writeKeyFile,
  sealDataKey,
  openEnvelope,
  parseEnvelope,
  withImageDigest,
  generateBrokerKeyPair,
  writeBrokerKeyFiles,
  loadBrokerPublicKey,
  loadBrokerSecretKey,
  azureSkrPolicy,
  marblerunPackages,
  raTlsVerifierEnvFile,
  secretProvManifest,
  writeReleasePolicies,
  evaluateSkrPolicy,
  parseAttestationClaims,
} from './encrypt/index.ts';
export type {
  KeyEnvelope,
  EnvelopeIdentity,
  BrokerKeyPair,
  ReleaseBinding,
  ReleaseIdentity,
  ReleaseOptions,
  ReleasePoliciesResult,
  SecretProvFragment,
  SecretProvOptions,
  SkrEvaluation,
  SkrPolicy,
} from './encrypt/index.ts';
export { CconvError, isCconvError } from './errors.ts';
export type { ErrorCode } from './errors.ts';
export type { ProgressEvent, Reporter } from './progress.ts';
export { attestImage, verifyAttestations, generateSigstoreKey, enclavePredicate, provenancePredicate, identityTokenProvider, ENCLAVE_PREDICATE_TYPE, SLSA_PROVENANCE_TYPE } from './publish/index.ts';
export type { AttestOptions, AttestResult, VerifyAttestationsOptions, VerifyAttestationsResult, TrustPolicy, SigningMethod, EnclavePredicate, ProvenanceInput } from './publish/index.ts';
