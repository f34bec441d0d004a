/**
 * `attestImage`: sign the enclave predicate and (when provenance inputs are given) SLSA provenance
 * about a pushed image, and store each bundle as an OCI referrer of it. Called by `cconv build`
 * after a push and by `cconv attest sign`.
 */
import { digestOf } from '../image/digest.ts';
import type { Platform } from '../image/types.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import type { RegistryOptions } from '../transports/registry/index.ts';
import type { ImageReference } from '../transports/types.ts';
import { ENCLAVE_PREDICATE_TYPE, predicateFromLabels, type EnclavePredicate } from './enclave-predicate.ts';
import { signStatement, type SigningMethod } from './sign.ts';
import { buildStatement, imageSubject, provenancePredicate, SLSA_PROVENANCE_TYPE, type ProvenanceInput, type Statement } from './statement.ts';
import { pushReferrer } from './store.ts';
import { openTarget } from './target.ts';

/** Options of `attestImage`. */
export interface AttestOptions {
  signing: SigningMethod;
  /** The enclave predicate; default built from the image labels (MRENCLAVE, MRSIGNER, ...). */
  enclave?: EnclavePredicate;
  /** Provenance inputs; without them no provenance attestation is made. */
  provenance?: ProvenanceInput;
  registry?: RegistryOptions;
  platform?: Platform;
  report?: Reporter;
}

/** One stored attestation. */
export interface StoredAttestation {
  predicateType: string;
  /** Digest of the referrer artifact manifest. */
  referrer: string;
  /** Digest of the bundle blob. */
  bundleDigest: string;
  index: 'api' | 'tag';
  /** Rekor log index (keyless only). */
  logIndex?: string;
}

/** The result of `attestImage`. */
export interface AttestResult {
  image: string;
  digest: string;
  enclave: EnclavePredicate;
  attestations: StoredAttestation[];
}

/** Signs and stores the attestations; errors are those of the registry, the signer and the labels (E_USAGE). */
export async function attestImage(reference: string | ImageReference, options: AttestOptions): Promise<AttestResult> {
  const report = options.report ?? silentReporter;
  const target = await openTarget(reference, { ...(options.registry ? { registry: options.registry } : {}), ...(options.platform ? { platform: options.platform } : {}) });
  try {
    const subject = imageSubject(target.name, target.descriptor.digest);
    const enclave = options.enclave ?? predicateFromLabels(target.labels);
    const statements: Statement[] = [buildStatement(subject, ENCLAVE_PREDICATE_TYPE, enclave)];
    if (options.provenance !== undefined) statements.push(buildStatement(subject, SLSA_PROVENANCE_TYPE, provenancePredicate(options.provenance)));
    const attestations: StoredAttestation[] = [];
    for (const statement of statements) {
      const short = statement.predicateType === ENCLAVE_PREDICATE_TYPE ? 'enclave' : 'provenance';
      const signed = await runTask(report, `sign-${short}`, `Signing the ${short} attestation`, () => signStatement(statement, options.signing));
      const pushed = await runTask(report, `push-${short}`, `Storing the ${short} attestation`, () =>
        pushReferrer(target.client, target.reference.repository, target.descriptor, signed.bytes, statement.predicateType),
      );
      const stored: StoredAttestation = {
        predicateType: statement.predicateType,
        referrer: pushed.descriptor.digest,
        bundleDigest: digestOf(signed.bytes),
        index: pushed.index,
      };
      const logIndex = signed.bundle.verificationMaterial?.tlogEntries?.[0]?.logIndex;
      if (typeof logIndex === 'string') stored.logIndex = logIndex;
      attestations.push(stored);
    }
    return { image: `docker://${target.name}`, digest: target.descriptor.digest, enclave, attestations };
  } finally {
    target.close();
  }
}
