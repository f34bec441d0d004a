/**
 * Checking one sigstore bundle with @sigstore/verify: the signature (against a given public key,
 * or a certificate chain, SCT and transparency-log entry under a trusted root with an expected
 * identity and issuer), then the in-toto statement inside it. Pure: no I/O.
 */
import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type VerificationPolicy } from '@sigstore/verify';
import { CconvError } from '../errors.ts';
import { INTOTO_PAYLOAD_TYPE, INTOTO_STATEMENT_TYPE, type Statement } from './statement.ts';

/** Who must have signed: the holder of a public key, or a Fulcio-certified OIDC identity. */
export type TrustPolicy =
  | { kind: 'key'; publicKey: KeyObject }
  | {
      kind: 'keyless';
      /** Certificate SAN (e-mail, or URI for workload identities), compared exactly. */
      certificateIdentity: string;
      /** OIDC issuer in the certificate's Fulcio issuer extension, compared exactly. */
      certificateIssuer: string;
      /** A sigstore trusted_root.json (parsed): Fulcio CAs, Rekor and CT log keys. */
      trustedRoot: unknown;
    };

/** The signer a bundle verified for. */
export type VerifiedSigner = { kind: 'key'; keyId: string } | { kind: 'keyless'; identity: string; issuer: string };

const EMPTY_ROOT = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };

/** A reusable verifier for a trust policy (building the trust material once). */
export function bundleVerifier(policy: TrustPolicy): (bundleJson: unknown) => { statement: Statement; signer: VerifiedSigner } {
  let verifier: Verifier;
  let identityPolicy: VerificationPolicy | undefined;
  try {
    if (policy.kind === 'key') {
      const material = toTrustMaterial(TrustedRoot.fromJSON(EMPTY_ROOT), () => ({ publicKey: policy.publicKey, validFor: () => true }));
      verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    } else {
      verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(policy.trustedRoot)));
      identityPolicy = { subjectAlternativeName: policy.certificateIdentity, extensions: { issuer: policy.certificateIssuer } };
    }
  } catch (err) {
    throw new CconvError('E_CONFIG', `the sigstore trusted root is invalid: ${(err as Error).message}`, { cause: err });
  }
  return (bundleJson) => {
    let bundle: Bundle;
    try {
      bundle = bundleFromJSON(bundleJson);
    } catch (err) {
      throw new CconvError('E_SIGNATURE_INVALID', `malformed sigstore bundle: ${(err as Error).message}`);
    }
    if (bundle.content.$case !== 'dsseEnvelope') throw new CconvError('E_SIGNATURE_INVALID', 'the bundle holds a message signature, not a DSSE attestation');
    if (policy.kind === 'key' && bundle.verificationMaterial.content.$case !== 'publicKey') {
      throw new CconvError('E_SIGNATURE_INVALID', 'the bundle is certificate-signed (keyless), but a public key was given', { hint: 'verify with --certificate-identity and --certificate-oidc-issuer' });
    }
    let signer;
    try {
      signer = verifier.verify(toSignedEntity(bundle), identityPolicy);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new CconvError('E_SIGNATURE_INVALID', `sigstore bundle does not verify: ${e.code ?? 'error'}: ${e.message ?? ''}`, { cause: err });
    }
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== INTOTO_PAYLOAD_TYPE) throw new CconvError('E_ATTESTATION', `DSSE payload type ${envelope.payloadType} is not an in-toto statement`);
    let statement: Statement;
    try {
      statement = JSON.parse(envelope.payload.toString('utf8')) as Statement;
    } catch {
      throw new CconvError('E_ATTESTATION', 'the signed payload is not JSON');
    }
    if (statement?._type !== INTOTO_STATEMENT_TYPE || !Array.isArray(statement.subject) || typeof statement.predicateType !== 'string') {
      throw new CconvError('E_ATTESTATION', 'the signed payload is not an in-toto Statement v1');
    }
    const verified: VerifiedSigner =
      policy.kind === 'key'
        ? { kind: 'key', keyId: bundle.verificationMaterial.content.$case === 'publicKey' ? bundle.verificationMaterial.content.publicKey.hint : '' }
        : { kind: 'keyless', identity: signer.identity?.subjectAlternativeName ?? '', issuer: signer.identity?.extensions?.issuer ?? '' };
    return { statement, signer: verified };
  };
}
