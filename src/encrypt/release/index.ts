/**
 * Release policies: the conditions under which a key broker releases a build's data key, bound to
 * the enclave identity (Azure Key Vault SKR, Marblerun, Gramine secret provisioning), and an SKR
 * policy evaluator to test a policy against attestation claims.
 */
export type {
  ReleaseBinding,
  ReleaseIdentity,
  ReleaseOptions,
  ReleasePoliciesResult,
  SecretProvOptions,
  SkrAuthority,
  SkrClaimCondition,
  SkrCondition,
  SkrOperator,
  SkrPolicy,
  SkrValue,
} from './types.ts';
export { checkReleaseIdentity, DEBUG_WARNING } from './identity.ts';
export {
  azureSkrPolicy,
  DEFAULT_PKGLIBDIR,
  marblerunPackages,
  normalizeMaaEndpoint,
  raTlsVerifierEnv,
  raTlsVerifierEnvFile,
  secretProvManifest,
} from './generate.ts';
export type { MarblerunPackage, SecretProvFragment } from './generate.ts';
export { policyJson, RELEASE_FILES, writeReleasePolicies } from './write.ts';
export { evaluateSkrPolicy, lookupClaim, normalizeIssuer } from './evaluate.ts';
export type { SkrEvaluation } from './evaluate.ts';
export { parseAttestationClaims } from './claims.ts';
