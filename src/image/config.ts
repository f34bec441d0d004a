/**
 * Image config validation (OCI image-spec config.md) and its consistency with the manifest.
 */
import { isDigest } from './digest.ts';
import { isLayerMediaType } from './media.ts';
import type { Descriptor, ImageConfig, Manifest } from './types.ts';
import { invalid, isObject, parseJsonObject } from './validate.ts';

function checkStringArray(value: unknown, what: string, nullable: boolean): void {
  if (value === undefined || (nullable && value === null)) return;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) invalid(what, 'must be an array of strings');
}

/**
 * Parses an image config: os and architecture non-empty strings, rootfs.type "layers",
 * rootfs.diff_ids valid digests, and the runtime fields cconv reads (Env, Entrypoint, Cmd, User,
 * WorkingDir) of the right types. Unknown fields are kept.
 */
export function parseConfig(bytes: Uint8Array, what = 'config'): ImageConfig {
  const doc = parseJsonObject(bytes, what);
  for (const key of ['os', 'architecture'] as const) {
    if (typeof doc[key] !== 'string' || doc[key] === '') invalid(`${what}.${key}`, 'must be a non-empty string');
  }
  if (doc.variant !== undefined && typeof doc.variant !== 'string') invalid(`${what}.variant`, 'must be a string');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs)) invalid(`${what}.rootfs`, 'must be an object');
  if (rootfs.type !== 'layers') invalid(`${what}.rootfs.type`, `must be "layers", got ${JSON.stringify(rootfs.type)}`);
  if (!Array.isArray(rootfs.diff_ids)) invalid(`${what}.rootfs.diff_ids`, 'must be an array');
  rootfs.diff_ids.forEach((d, i) => {
    if (!isDigest(d)) invalid(`${what}.rootfs.diff_ids[${i}]`, `not a valid digest: ${JSON.stringify(d)}`);
  });
  const c = doc.config;
  if (c !== undefined && c !== null) {
    if (!isObject(c)) invalid(`${what}.config`, 'must be an object');
    checkStringArray(c.Env, `${what}.config.Env`, true);
    checkStringArray(c.Entrypoint, `${what}.config.Entrypoint`, true);
    checkStringArray(c.Cmd, `${what}.config.Cmd`, true);
    for (const key of ['User', 'WorkingDir', 'StopSignal'] as const) {
      if (c[key] !== undefined && typeof c[key] !== 'string') invalid(`${what}.config.${key}`, 'must be a string');
    }
  }
  if (doc.history !== undefined && !Array.isArray(doc.history)) invalid(`${what}.history`, 'must be an array');
  return doc as unknown as ImageConfig;
}

/** The manifest's layer descriptors, i.e. `layers` without non-layer descriptors (artifacts, empty blobs). */
export function layerDescriptors(manifest: Manifest): Descriptor[] {
  return manifest.layers.filter((d) => isLayerMediaType(d.mediaType));
}

/** Checks that the config has one diff_id per layer descriptor of the manifest (E_MANIFEST_INVALID). */
export function checkConfigMatchesManifest(manifest: Manifest, config: ImageConfig): void {
  const layers = layerDescriptors(manifest).length;
  const diffIds = config.rootfs.diff_ids.length;
  if (layers !== diffIds) {
    invalid('config.rootfs.diff_ids', `has ${diffIds} entries but the manifest has ${layers} layers`);
  }
}
