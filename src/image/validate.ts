/**
 * Parses and validates manifests and indexes (OCI image-spec and Docker v2 schema 2 / manifest
 * list). Every failure is E_MANIFEST_INVALID with a message naming the offending field.
 */
import { CconvError } from '../errors.ts';
import { isDigest } from './digest.ts';
import { isIndexMediaType, isManifestMediaType } from './media.ts';
import { MediaType, type Descriptor, type Index, type Manifest, type Platform } from './types.ts';

type Json = Record<string, unknown>;

/** Throws E_MANIFEST_INVALID "`what`: `detail`". */
export function invalid(what: string, detail: string): never {
  throw new CconvError('E_MANIFEST_INVALID', `${what}: ${detail}`);
}

/** Parses UTF-8 JSON that must be an object; E_MANIFEST_INVALID otherwise. */
export function parseJsonObject(bytes: Uint8Array | string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new CconvError('E_MANIFEST_INVALID', `${what}: not valid JSON`, { cause: err });
  }
  if (!isObject(value)) invalid(what, 'not a JSON object');
  return value;
}

/** True for a non-null, non-array object. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalStringMap(value: unknown, what: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    invalid(what, 'must be an object of strings');
  }
  return value as Record<string, string>;
}

function validatePlatform(value: unknown, what: string): Platform {
  if (!isObject(value)) invalid(what, 'must be an object');
  for (const key of ['os', 'architecture'] as const) {
    if (typeof value[key] !== 'string' || value[key] === '') invalid(`${what}.${key}`, 'must be a non-empty string');
  }
  if (value.variant !== undefined && typeof value.variant !== 'string') invalid(`${what}.variant`, 'must be a string');
  return value as unknown as Platform;
}

/** Validates a descriptor (digest, size, mediaType and optional fields); `what` names it in errors. */
export function validateDescriptor(value: unknown, what: string): Descriptor {
  if (!isObject(value)) invalid(what, 'must be an object');
  if (typeof value.mediaType !== 'string' || value.mediaType === '') invalid(`${what}.mediaType`, 'must be a non-empty string');
  if (!isDigest(value.digest)) invalid(`${what}.digest`, `not a valid digest: ${JSON.stringify(value.digest)}`);
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    invalid(`${what}.size`, `must be a non-negative integer, got ${JSON.stringify(size)}`);
  }
  if (value.urls !== undefined && (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string'))) {
    invalid(`${what}.urls`, 'must be an array of strings');
  }
  optionalStringMap(value.annotations, `${what}.annotations`);
  if (value.platform !== undefined) validatePlatform(value.platform, `${what}.platform`);
  return value as unknown as Descriptor;
}

function checkCommon(doc: Json, what: string, expectedMediaType: string | undefined): void {
  if (doc.schemaVersion !== 2) invalid(`${what}.schemaVersion`, `must be 2, got ${JSON.stringify(doc.schemaVersion)}`);
  if (doc.mediaType !== undefined && typeof doc.mediaType !== 'string') invalid(`${what}.mediaType`, 'must be a string');
  if (expectedMediaType !== undefined && doc.mediaType !== undefined && doc.mediaType !== expectedMediaType) {
    invalid(`${what}.mediaType`, `is ${JSON.stringify(doc.mediaType)} but the document was served as ${JSON.stringify(expectedMediaType)}`);
  }
  optionalStringMap(doc.annotations, `${what}.annotations`);
  if (doc.subject !== undefined) validateDescriptor(doc.subject, `${what}.subject`);
}

/**
 * Parses an image manifest. `mediaType`, when known (from an index entry or HTTP header), must
 * agree with the document's own `mediaType` field. A Docker manifest must name a Docker config.
 */
export function parseManifest(bytes: Uint8Array, mediaType?: string, what = 'manifest'): Manifest {
  const doc = parseJsonObject(bytes, what);
  checkCommon(doc, what, mediaType);
  const type = (doc.mediaType as string | undefined) ?? mediaType ?? MediaType.OciManifest;
  if (!isManifestMediaType(type)) invalid(`${what}.mediaType`, `${JSON.stringify(type)} is not an image manifest media type`);
  if (doc.manifests !== undefined) invalid(what, 'has a "manifests" field (an index, not a manifest)');
  const config = validateDescriptor(doc.config, `${what}.config`);
  if (type === MediaType.DockerManifest && config.mediaType !== MediaType.DockerConfig) {
    invalid(`${what}.config.mediaType`, `a Docker manifest needs ${MediaType.DockerConfig}, got ${JSON.stringify(config.mediaType)}`);
  }
  if (!Array.isArray(doc.layers)) invalid(`${what}.layers`, 'must be an array');
  doc.layers.forEach((l, i) => validateDescriptor(l, `${what}.layers[${i}]`));
  return doc as unknown as Manifest;
}

/** Parses an image index or Docker manifest list (see `parseManifest` for `mediaType`). */
export function parseIndex(bytes: Uint8Array, mediaType?: string, what = 'index'): Index {
  const doc = parseJsonObject(bytes, what);
  checkCommon(doc, what, mediaType);
  const type = (doc.mediaType as string | undefined) ?? mediaType ?? MediaType.OciIndex;
  if (!isIndexMediaType(type)) invalid(`${what}.mediaType`, `${JSON.stringify(type)} is not an index media type`);
  if (doc.config !== undefined || doc.layers !== undefined) invalid(what, 'has "config"/"layers" fields (a manifest, not an index)');
  if (!Array.isArray(doc.manifests)) invalid(`${what}.manifests`, 'must be an array');
  doc.manifests.forEach((m, i) => validateDescriptor(m, `${what}.manifests[${i}]`));
  return doc as unknown as Index;
}

/** A parsed top-level document: either an index or an image manifest. */
export type ParsedDocument = { kind: 'index'; index: Index; mediaType: string } | { kind: 'manifest'; manifest: Manifest; mediaType: string };

/**
 * Parses a document that may be an index or a manifest, deciding by `mediaType` (argument or
 * field) and, when neither is given, by the presence of `manifests`.
 */
export function parseImageDocument(bytes: Uint8Array, mediaType?: string, what = 'manifest'): ParsedDocument {
  let type = mediaType;
  if (type === undefined) {
    const doc = parseJsonObject(bytes, what);
    type = typeof doc.mediaType === 'string' ? doc.mediaType : Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  }
  if (isIndexMediaType(type)) return { kind: 'index', index: parseIndex(bytes, mediaType, what), mediaType: type };
  if (isManifestMediaType(type)) return { kind: 'manifest', manifest: parseManifest(bytes, mediaType, what), mediaType: type };
  throw new CconvError('E_MEDIA_TYPE', `${what}: unsupported media type ${JSON.stringify(type)}`, {
    hint: 'cconv reads OCI and Docker v2 schema 2 manifests and indexes',
  });
}
