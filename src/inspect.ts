/**
 * `inspect`: what an image is (manifest, config, layers) and what its root filesystem holds,
 * without writing anything. The result is the stable JSON documented in README.md.
 */
import { formatPlatform } from './image/platform.ts';
import type { Platform } from './image/types.ts';
import type { Reporter } from './progress.ts';
import { silentReporter } from './progress.ts';
import { flatten } from './rootfs/index.ts';
import type { EntryType, FlattenLimits, RootfsTotals } from './rootfs/types.ts';
import { openSource, type SourceOptions } from './transports/index.ts';
import { formatReference, parseReference } from './transports/reference.ts';
import type { OpenOptions } from './transports/types.ts';

/** Options of `inspectImage`. */
export interface InspectOptions {
  platform?: Platform;
  /** List every root-filesystem entry (with sha256 of files). */
  files?: boolean;
  /** Directory for temporary files (spooled archives); default the system temp dir. */
  tmpDir?: string;
  /** Registry and daemon connection options (default: from the environment). */
  sources?: SourceOptions;
  /** Bounds of flattening the image (unset fields keep flatten's defaults). */
  limits?: Partial<FlattenLimits>;
  report?: Reporter;
}

/** One layer as `inspect` reports it. */
export interface InspectLayer {
  index: number;
  digest: string;
  diffId: string;
  mediaType: string;
  size: number;
}

/** One root-filesystem entry as `inspect --files` reports it. */
export interface InspectFile {
  path: string;
  type: EntryType;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  linkTarget?: string;
  hardlinkTo?: string;
}

/** The result of `inspectImage` (README.md, "cconv inspect --json"). */
export interface InspectResult {
  reference: string;
  manifestDigest: string;
  manifestMediaType: string;
  configDigest: string;
  platform: string;
  created?: string;
  config: {
    entrypoint: string[];
    cmd: string[];
    env: string[];
    workingDir: string;
    user: string;
    exposedPorts: string[];
    labels: Record<string, string>;
  };
  layers: InspectLayer[];
  rootfs: RootfsTotals;
  files?: InspectFile[];
}

/** Opens `reference`, reads every layer once, and describes the image. */
export async function inspectImage(reference: string, options: InspectOptions = {}): Promise<InspectResult> {
  const report = options.report ?? silentReporter;
  const ref = parseReference(reference);
  const open: OpenOptions = { report };
  if (options.platform !== undefined) open.platform = options.platform;
  if (options.tmpDir !== undefined) open.tmpDir = options.tmpDir;
  const image = await openSource(ref, options.sources).open(open);
  try {
    const rootfs = await flatten(image, { hash: options.files === true, report, ...(options.limits ? { limits: options.limits } : {}) });
    const c = image.config.config ?? {};
    const result: InspectResult = {
      reference: formatReference(ref),
      manifestDigest: image.manifestDigest,
      manifestMediaType: image.manifestMediaType,
      configDigest: image.manifest.config.digest,
      platform: formatPlatform(image.platform),
      config: {
        entrypoint: c.Entrypoint ?? [],
        cmd: c.Cmd ?? [],
        env: c.Env ?? [],
        workingDir: c.WorkingDir ?? '',
        user: c.User ?? '',
        exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
        labels: c.Labels ?? {},
      },
      layers: image.layers.map((l) => ({ index: l.index, digest: l.descriptor.digest, diffId: l.diffId, mediaType: l.descriptor.mediaType, size: l.descriptor.size })),
      rootfs: { ...rootfs.totals },
    };
    if (image.config.created !== undefined) result.created = image.config.created;
    if (options.files) {
      result.files = [];
      for (const e of rootfs.entries()) {
        const f: InspectFile = { path: `/${e.path}`, type: e.type, mode: e.mode.toString(8).padStart(4, '0'), uid: e.uid, gid: e.gid, size: e.size };
        if (e.sha256 !== undefined) f.sha256 = e.sha256;
        if (e.linkTarget !== undefined) f.linkTarget = e.linkTarget;
        if (e.hardlinkTo !== undefined) f.hardlinkTo = `/${e.hardlinkTo}`;
        result.files.push(f);
      }
    }
    return result;
  } finally {
    await image.close();
  }
}
