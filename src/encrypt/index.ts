/**
 * Encrypted files: Gramine's protected-files format (reader and writer), data keys (keys.ts), key
 * envelopes sealed to a key broker (envelope.ts, broker.ts) and release policies (release/).
 */
export { PfBatch, encryptAt, encryptFile, encryptToFile, type PfBatchOptions, type PfTarget } from './pf/writer.ts';
export type { PfInput, PfWriteOptions } from './pf/writer.ts';
export type { PfWriteResult, NodeSink, PfEncoderOptions } from './pf/encoder.ts';
export { PfEncoder } from './pf/encoder.ts';
export { decryptFile, decryptToBuffer, readPfInfo } from './pf/reader.ts';
export type { PfSource } from './pf/reader.ts';
export { PfDecoder, openMetadata } from './pf/decoder.ts';
export type { PfInfo, PfReadOptions } from './pf/decoder.ts';
export { getNormPath, pfBoundPath } from './pf/path.ts';
export type { PfMount } from './pf/path.ts';
export { aesCmac, deriveMetadataKey, kdfInput } from './pf/kdf.ts';
export { PF_NODE_SIZE, PF_MD_DATA_SIZE, encryptedSize, nodeCounts } from './pf/format.ts';
export type { PfHeader, PfMetadata } from './pf/format.ts';
export { parseHeader } from './pf/format.ts';
export { SecretKey, DATA_KEY_SIZE, generateDataKey, parseDataKey, loadDataKey, writeKeyFile } from './keys.ts';
export { ENVELOPE_ALGORITHM, brokerKeyId, sealDataKey, openEnvelope, parseEnvelope, withImageDigest } from './envelope.ts';
export type { KeyEnvelope, EnvelopeIdentity, OpenedEnvelope } from './envelope.ts';
export { generateBrokerKeyPair, brokerPublicKeyJson, writeBrokerKeyFiles, loadBrokerPublicKey, loadBrokerSecretKey } from './broker.ts';
export type { BrokerKeyPair } from './broker.ts';
export {
  azureSkrPolicy,
  checkReleaseIdentity,
  DEBUG_WARNING,
  DEFAULT_PKGLIBDIR,
  evaluateSkrPolicy,
  lookupClaim,
  marblerunPackages,
  normalizeIssuer,
  normalizeMaaEndpoint,
  parseAttestationClaims,
  policyJson,
  raTlsVerifierEnv,
  raTlsVerifierEnvFile,
  RELEASE_FILES,
  secretProvManifest,
  writeReleasePolicies,
} from './release/index.ts';
export type {
  MarblerunPackage,
  ReleaseBinding,
  ReleaseIdentity,
  ReleaseOptions,
  ReleasePoliciesResult,
  SecretProvFragment,
  SecretProvOptions,
  SkrAuthority,
  SkrClaimCondition,
  SkrCondition,
  SkrEvaluation,
  SkrOperator,
  SkrPolicy,
  SkrValue,
} from './release/index.ts';
