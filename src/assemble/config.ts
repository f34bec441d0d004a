/**
 * The output image config and manifest, as exact bytes: compact JSON with a fixed key order
 * (maps such as Labels sorted by key), so the same inputs give the same digests. Pure code.
 */
import { digestOf } from '../image/digest.ts';
import type { ContainerConfig, Descriptor, Digest, ImageConfig } from '../image/types.ts';
import { MediaType } from '../image/types.ts';
import type { AssembleIdentity } from './types.ts';

/** Label / annotation keys cconv writes. */
export const LABELS = {
  mrenclave: 'org.cconv.sgx.mrenclave',
  mrsigner: 'org.cconv.sgx.mrsigner',
  isvProdId: 'org.cconv.sgx.isvprodid',
  isvSvn: 'org.cconv.sgx.isvsvn',
  debug: 'org.cconv.sgx.debug',
  untrustedCode: 'org.cconv.sgx.untrusted-code',
  runtime: 'org.cconv.runtime',
  runtimeVersion: 'org.cconv.runtime.version',
  sourceDigest: 'org.cconv.source.digest',
  sourceRef: 'org.cconv.source.ref',
} as const;

/** The OCI annotation naming the base image's manifest digest. */
export const BASE_DIGEST_ANNOTATION = 'org.opencontainers.image.base.digest';

/** `created_by` of the history entries of the layers cconv adds. */
export const CREATED_BY = 'cconv build';

/** What the labels say. */
export interface LabelInput {
  identity: AssembleIdentity;
  runtimeInfo: { name: string; version: string };
  sourceDigest: Digest;
  sourceRef: string;
  /** The enclave runs code Gramine does not check (allowed files cover it): labelled "true"; no label otherwise. */
  untrustedCode?: boolean;
}

/** The identity labels, as strings (hex lowercase, integers in decimal, debug "true"/"false"). */
export function identityLabels(input: LabelInput): Record<string, string> {
  const id = input.identity;
  return {
    [LABELS.mrenclave]: id.mrenclave.toLowerCase(),
    [LABELS.mrsigner]: id.mrsigner.toLowerCase(),
    [LABELS.isvProdId]: String(id.isvProdId),
    [LABELS.isvSvn]: String(id.isvSvn),
    [LABELS.debug]: String(id.debug),
    [LABELS.runtime]: input.runtimeInfo.name,
    [LABELS.runtimeVersion]: input.runtimeInfo.version,
    [LABELS.sourceDigest]: input.sourceDigest,
    [LABELS.sourceRef]: input.sourceRef,
    ...(input.untrustedCode === true ? { [LABELS.untrustedCode]: 'true' } : {}),
  };
}

/** Seconds since the epoch as RFC 3339 UTC without fractions ("1970-01-01T00:00:00Z"). */
export function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sortedMap<T>(m: Record<string, T> | null | undefined): Record<string, T> | undefined {
  if (m === null || m === undefined) return undefined;
  const out: Record<string, T> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}

/** Drops undefined values, keeping the insertion order of the rest. */
function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

type History = NonNullable<ImageConfig['history']>[number];

/** What the config is built from. */
export interface ConfigInput extends LabelInput {
  source: ImageConfig;
  entrypoint: readonly string[];
  cmd: readonly string[] | null;
  /** Output diff_ids, bottom first: app layers, runtime, cconv. */
  diffIds: readonly Digest[];
  /** For each source layer: true when it was rewritten. */
  rewritten: readonly boolean[];
  runtimeComment: string;
  epoch: number;
}

function historyOf(input: ConfigInput, created: string): History[] {
  const src = input.source.history ?? [];
  const nonEmpty = src.filter((h) => h.empty_layer !== true).length;
  const entry = (h: History): History =>
    compact({ created: h.created, created_by: h.created_by, comment: h.comment, empty_layer: h.empty_layer === true ? true : undefined });
  let app: History[];
  if (src.length > 0 && nonEmpty === input.rewritten.length) {
    let layer = 0;
    app = src.map((h) => {
      const out = entry(h);
      if (h.empty_layer !== true && input.rewritten[layer++] === true) {
        out.comment = out.comment ? `${out.comment}; cconv: rewritten without encrypted files` : 'cconv: rewritten without encrypted files';
      }
      return out;
    });
  } else {
    // Missing or inconsistent source history: one entry per source layer, so entries match layers.
    app = input.rewritten.map((r, i) => ({ created, created_by: `source layer ${i}`, comment: r ? 'cconv: rewritten without encrypted files' : 'source history unavailable' }));
  }
  return [
    ...app,
    { created, created_by: CREATED_BY, comment: input.runtimeComment },
    { created, created_by: CREATED_BY, comment: 'cconv: enclave manifest, signature, trusted argv, encrypted files' },
  ];
}

/**
 * The output config bytes. Kept from the source: architecture, os (os.version, os.features),
 * variant, Env (without LD_* variables, see hostEnv), ExposedPorts, Volumes, WorkingDir, Labels, StopSignal. Set: Entrypoint (the loader
 * argv), Cmd, User "" (the loader runs as root; the app's uid/gid are the enclave's loader.uid/gid),
 * the identity labels, rootfs, history, created = epoch. Everything else (Healthcheck, OnBuild,
 * Shell, author...) is dropped: it would run outside the enclave or no longer applies.
 */
/**
 * The container's Env, which only the host loader sees (the app's environment is the manifest's
 * measured loader.env): the image's, less dynamic-linker variables (LD_PRELOAD, LD_LIBRARY_PATH,
 * LD_AUDIT, ...), which would load the app's libraries into Gramine's glibc-linked loader.
 */
export function hostEnv(env: readonly string[] | null | undefined): string[] | undefined {
  return env?.filter((e) => !e.startsWith('LD_')) ?? undefined;
}

export function buildConfig(input: ConfigInput): Buffer {
  const src = input.source;
  const c: ContainerConfig = src.config ?? {};
  const created = rfc3339(input.epoch);
  const config = compact({
    User: '',
    ExposedPorts: sortedMap(c.ExposedPorts),
    Env: hostEnv(c.Env),
    Entrypoint: [...input.entrypoint],
    Cmd: input.cmd === null ? null : [...input.cmd],
    Volumes: sortedMap(c.Volumes),
    WorkingDir: c.WorkingDir || undefined,
    Labels: sortedMap({ ...(c.Labels ?? {}), ...identityLabels(input) }),
    StopSignal: c.StopSignal || undefined,
  });
  const doc = compact({
    created,
    architecture: src.architecture,
    os: src.os,
    'os.version': typeof src['os.version'] === 'string' ? src['os.version'] : undefined,
    'os.features': Array.isArray(src['os.features']) ? src['os.features'] : undefined,
    variant: src.variant || undefined,
    config,
    rootfs: { type: 'layers', diff_ids: [...input.diffIds] },
    history: historyOf(input, created),
  });
  return Buffer.from(JSON.stringify(doc));
}

/** The descriptor of config bytes. */
export function configDescriptor(bytes: Buffer): Descriptor {
  return { mediaType: MediaType.OciConfig, digest: digestOf(bytes), size: bytes.length };
}

function descriptorJson(d: Descriptor): Descriptor {
  return compact({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    urls: d.urls && d.urls.length > 0 ? [...d.urls] : undefined,
    annotations: sortedMap(d.annotations),
  }) as Descriptor;
}

/** The OCI image manifest bytes: config, layers, and the identity labels plus base.digest as annotations. */
export function buildManifest(config: Descriptor, layers: readonly Descriptor[], labels: LabelInput): Buffer {
  const annotations = sortedMap({ ...identityLabels(labels), [BASE_DIGEST_ANNOTATION]: labels.sourceDigest });
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: descriptorJson(config),
    layers: layers.map(descriptorJson),
    annotations,
  };
  return Buffer.from(JSON.stringify(doc));
}
