/**
 * `verifyAttestations`: find the sigstore-bundle referrers of a registry image (referrers API or
 * the fallback tag), verify each bundle for the given trust policy, and check what they say
 * against the image: the statement subject must be the image's manifest digest, and the enclave
 * predicate's MRENCLAVE/MRSIGNER must equal the image labels and the caller's expectations.
 *
 * A bundle that does not verify (unknown signer, tampered, another image) is rejected and listed,
 * not fatal by itself: verification passes when every required predicate type has a verified
 * attestation for this digest. A verified enclave statement that contradicts the image is fatal.
 */
import { CconvError, isCconvError, type ErrorCode } from '../errors.ts';
import { digestOf, splitDigest } from '../image/digest.ts';
import { MAX_DOCUMENT_BYTES } from '../image/resolve.ts';
import { readAll } from '../image/streams.ts';
import type { Platform } from '../image/types.ts';
import { parseManifest } from '../image/validate.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import { listReferrers, type RegistryClient, type RegistryOptions } from '../transports/registry/index.ts';
import type { ImageReference } from '../transports/types.ts';
import { bundleVerifier, type TrustPolicy, type VerifiedSigner } from './check-bundle.ts';
import { ENCLAVE_LABELS, ENCLAVE_PREDICATE_TYPE, parseEnclavePredicate, type EnclavePredicate } from './enclave-predicate.ts';
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from './sign.ts';
import type { Statement } from './statement.ts';
import { openTarget } from './target.ts';

/** Options of `verifyAttestations`. */
export interface VerifyAttestationsOptions {
  trust: TrustPolicy;
  /** Values the enclave predicate must have (lowercase hex), besides agreeing with the labels. */
  expect?: { mrenclave?: string; mrsigner?: string };
  /** Predicate types that need a verified attestation; default the enclave predicate only. */
  require?: string[];
  registry?: RegistryOptions;
  platform?: Platform;
  report?: Reporter;
}

/** A verified attestation. */
export interface VerifiedAttestation {
  referrer: string;
  predicateType: string;
  signer: VerifiedSigner;
}

/** A referrer that was not accepted, and why. */
export interface RejectedAttestation {
  referrer: string;
  code: ErrorCode;
  reason: string;
}

/** The result of a passing verification. */
export interface VerifyAttestationsResult {
  image: string;
  digest: string;
  /** How the referrers were found. */
  source: 'api' | 'tag' | 'none';
  verified: VerifiedAttestation[];
  rejected: RejectedAttestation[];
  /** The verified enclave predicate, when one was found. */
  enclave?: EnclavePredicate;
  /** What MRENCLAVE/MRSIGNER were compared with. */
  checked: string[];
}

async function fetchBundle(client: RegistryClient, repository: string, referrer: string): Promise<unknown> {
  const fetched = await client.getManifest(repository, referrer);
  const manifest = parseManifest(fetched.bytes, fetched.mediaType, `referrer ${referrer}`);
  const layer = manifest.layers.find((l) => l.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE);
  if (layer === undefined) throw new CconvError('E_MANIFEST_INVALID', `referrer ${referrer} has no ${SIGSTORE_BUNDLE_MEDIA_TYPE} layer`);
  if (layer.size > MAX_DOCUMENT_BYTES) throw new CconvError('E_MANIFEST_INVALID', `bundle of referrer ${referrer} is over ${MAX_DOCUMENT_BYTES} bytes`);
  const bytes = await readAll(await client.getBlob(repository, layer), MAX_DOCUMENT_BYTES, () => new CconvError('E_MANIFEST_INVALID', `bundle of ${referrer} too large`));
  if (digestOf(bytes, splitDigest(layer.digest).algorithm) !== layer.digest) throw new CconvError('E_DIGEST_MISMATCH', `bundle blob ${layer.digest} does not match its content`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new CconvError('E_SIGNATURE_INVALID', `bundle of referrer ${referrer} is not JSON`);
  }
}

function checkSubject(statement: Statement, digest: string): void {
  const { algorithm, hex } = splitDigest(digest as Parameters<typeof splitDigest>[0]);
  if (!statement.subject.some((s) => s?.digest?.[algorithm] === hex)) {
    const other = statement.subject.map((s) => Object.entries(s?.digest ?? {}).map(([a, h]) => `${a}:${h}`).join(',')).join(' ');
    throw new CconvError('E_ATTESTATION', `the attestation is about ${other || 'no digest'}, not this image (${digest})`, { hint: 'the referrer was copied from another image or the tag was moved' });
  }
}

function compareEnclave(predicate: EnclavePredicate, labels: Record<string, string>, expect: VerifyAttestationsOptions['expect'], checked: Set<string>): void {
  for (const field of ['mrenclave', 'mrsigner'] as const) {
    const label = labels[ENCLAVE_LABELS[field]];
    if (label !== undefined) {
      checked.add(`label ${ENCLAVE_LABELS[field]}`);
      if (label.toLowerCase() !== predicate[field]) {
        throw new CconvError('E_ATTESTATION', `the signed ${field.toUpperCase()} ${predicate[field]} differs from the image label ${label}`);
      }
    }
    const wanted = expect?.[field];
    if (wanted !== undefined) {
      checked.add(`expected ${field}`);
      if (wanted.toLowerCase() !== predicate[field]) throw new CconvError('E_ATTESTATION', `the signed ${field.toUpperCase()} ${predicate[field]} is not the expected ${wanted}`);
    }
  }
}

/** Verifies the attestations of `reference`; see the module comment for what passes. */
export async function verifyAttestations(reference: string | ImageReference, options: VerifyAttestationsOptions): Promise<VerifyAttestationsResult> {
  const report = options.report ?? silentReporter;
  const required = options.require ?? [ENCLAVE_PREDICATE_TYPE];
  const verify = bundleVerifier(options.trust);
  const target = await openTarget(reference, { ...(options.registry ? { registry: options.registry } : {}), ...(options.platform ? { platform: options.platform } : {}) });
  try {
    const digest = target.descriptor.digest;
    const repository = target.reference.repository;
    const found = await listReferrers(target.client, repository, digest, SIGSTORE_BUNDLE_MEDIA_TYPE);
    const result: VerifyAttestationsResult = { image: `docker://${target.name}`, digest, source: found.source, verified: [], rejected: [], checked: [] };
    const checked = new Set<string>();
    await runTask(report, 'verify-attestations', `Verifying ${found.index.manifests.length} attestation(s)`, async (advance) => {
      for (const d of found.index.manifests) {
        let accepted: { statement: Statement; signer: VerifiedSigner } | undefined;
        try {
          accepted = verify(await fetchBundle(target.client, repository, d.digest));
          checkSubject(accepted.statement, digest);
        } catch (err) {
          // Unverifiable bundles are skipped; failures to talk to the registry are not.
          if (!isCconvError(err) || ['E_AUTH', 'E_NETWORK', 'E_REGISTRY', 'E_CONFIG'].includes(err.code)) throw err;
          result.rejected.push({ referrer: d.digest, code: err.code, reason: err.message });
          accepted = undefined;
        }
        if (accepted !== undefined) {
          // A trusted signer's statement about this very digest that contradicts the image is fatal.
          const { statement, signer } = accepted;
          if (statement.predicateType === ENCLAVE_PREDICATE_TYPE) {
            const predicate = parseEnclavePredicate(statement.predicate, `enclave predicate of ${d.digest}`, 'E_ATTESTATION');
            compareEnclave(predicate, target.labels, options.expect, checked);
            result.enclave ??= predicate;
          }
          result.verified.push({ referrer: d.digest, predicateType: statement.predicateType, signer });
        }
        advance(1);
      }
    }, found.index.manifests.length);
    result.checked = [...checked].sort();
    for (const type of required) {
      if (result.verified.some((v) => v.predicateType === type)) continue;
      const first = result.rejected[0];
      if (first !== undefined) {
        throw new CconvError(first.code, `no verified ${type} attestation for ${digest}: ${first.reason}`, { hint: `${result.rejected.length} attestation(s) rejected` });
      }
      throw new CconvError('E_ATTESTATION', `no ${type} attestation found for ${digest} (${found.source === 'none' ? 'the image has no referrers' : `${found.index.manifests.length} bundle(s), none of this type`})`, { hint: 'sign it with cconv attest sign' });
    }
    return result;
  } finally {
    target.close();
  }
}
