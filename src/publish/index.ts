/** publish/: in-toto statements about pushed images, sigstore bundles, OCI referrers, and their verification. */
export { canonicalJson } from './canonical.ts';
export type { ImageInput, ProvenanceInput, ProvenancePredicate, ResourceDescriptor, Statement, StatementSubject } from './statement.ts';
export {
  CCONV_BUILD_TYPE,
  DEFAULT_BUILDER_ID,
  INTOTO_PAYLOAD_TYPE,
  INTOTO_STATEMENT_TYPE,
  SLSA_PROVENANCE_TYPE,
  buildStatement,
  imageSubject,
  provenancePredicate,
  statementBytes,
} from './statement.ts';
export type { EnclavePredicate, EnclavePredicateInput } from './enclave-predicate.ts';
export {
  ENCLAVE_LABELS,
  ENCLAVE_PREDICATE_TYPE,
  enclavePredicate,
  parseEnclavePredicate,
  predicateFromLabels,
  trustedFilesDigest,
  trustedFilesList,
} from './enclave-predicate.ts';
export type { SigstoreKeyFiles } from './keys.ts';
export { generateSigstoreKey, loadSigstorePrivateKey, loadSigstorePublicKey, sigstoreKeyId } from './keys.ts';
export type { IdentityTokenOptions, IdentityTokenProvider } from './identity-token.ts';
export { identityTokenProvider, tokenClaims } from './identity-token.ts';
export type { SignedBundle, SigningMethod } from './sign.ts';
export { DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL, SIGSTORE_BUNDLE_MEDIA_TYPE, localKeySigner, signStatement } from './sign.ts';
export type { ReferrerManifest } from './referrer.ts';
export { BUNDLE_CONTENT_ANNOTATION, EMPTY_DESCRIPTOR, EMPTY_JSON, PREDICATE_TYPE_ANNOTATION, mergeReferrersIndex, referrerManifest } from './referrer.ts';
export type { PushedReferrer } from './store.ts';
export { pushReferrer } from './store.ts';
export type { AttestationTarget } from './target.ts';
export { dockerReference, openTarget } from './target.ts';
export type { TrustPolicy, VerifiedSigner } from './check-bundle.ts';
export { bundleVerifier } from './check-bundle.ts';
export type { AttestOptions, AttestResult, StoredAttestation } from './attest.ts';
export { attestImage } from './attest.ts';
export type { RejectedAttestation, VerifiedAttestation, VerifyAttestationsOptions, VerifyAttestationsResult } from './verify.ts';
export { verifyAttestations } from './verify.ts';
