/**
 * OCI artifacts that carry sigstore bundles as referrers of an image (image-spec 1.1 "artifacts
 * guidance", as cosign stores `--new-bundle-format` attestations), and the referrers index of the
 * tag-schema fallback. Pure: bytes in, bytes out.
 */
import { digestOf } from '../image/digest.ts';
import { MediaType, type Descriptor, type Index } from '../image/types.ts';
import { canonicalJson } from './canonical.ts';
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from './sign.ts';

/** Manifest annotation naming the bundle's predicate type (as cosign writes it). */
export const PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
/** Manifest annotation naming the bundle content kind (as cosign writes it). */
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';

/** The OCI empty JSON blob `{}` used as the config of artifacts. */
export const EMPTY_JSON = Buffer.from('{}');
/** The descriptor of EMPTY_JSON. */
export const EMPTY_DESCRIPTOR: Descriptor = { mediaType: MediaType.OciEmpty, digest: digestOf(EMPTY_JSON), size: EMPTY_JSON.length };

/** A referrer artifact manifest: exact bytes, digest, and the descriptor to list it by in an index. */
export interface ReferrerManifest {
  bytes: Buffer;
  descriptor: Descriptor;
  /** The bundle layer's descriptor. */
  layer: Descriptor;
}

/** Only the fields a subject descriptor may carry (mediaType, digest, size). */
function subjectOf(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/**
 * The artifact manifest storing `bundleBytes` as a referrer of `subject`: artifactType and layer
 * media type the sigstore bundle v0.3 type, config the empty descriptor, annotations the
 * predicate type. Canonical JSON (sorted keys), so the same bundle gives the same digest.
 */
export function referrerManifest(bundleBytes: Buffer, subject: Descriptor, predicateType: string): ReferrerManifest {
  const layer: Descriptor = { mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE, digest: digestOf(bundleBytes), size: bundleBytes.length };
  const annotations = { [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope', [PREDICATE_TYPE_ANNOTATION]: predicateType };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
    subject: subjectOf(subject),
    annotations,
  };
  const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
  return {
    bytes,
    layer,
    descriptor: { mediaType: MediaType.OciManifest, digest: digestOf(bytes), size: bytes.length, artifactType: SIGSTORE_BUNDLE_MEDIA_TYPE, annotations },
  };
}

/**
 * The referrers index after adding `entry` to `existing` (tag schema): entries of other digests
 * are kept as they are, an entry of the same digest is replaced, and the list is sorted by
 * artifactType then digest, so the result depends only on the set of referrers.
 */
export function mergeReferrersIndex(existing: Index | undefined, entry: Descriptor): { index: Index; bytes: Buffer } {
  const kept = (existing?.manifests ?? []).filter((d) => d.digest !== entry.digest);
  const manifests = [...kept, entry].sort((a, b) => {
    const ta = a.artifactType ?? '';
    const tb = b.artifactType ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
  });
  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return { index, bytes: Buffer.from(canonicalJson(index), 'utf8') };
}
