/**
 * Bounds on what `flatten` accepts, so that a small hostile image cannot cost unbounded time or
 * memory: a 10 MB gzip layer can hold a million empty files (each an object in the tree and a
 * line of the manifest), a manifest can list thousands of layers. Over a bound is E_UNSUPPORTED
 * (the image may be valid; cconv declines it) with a hint naming the option that raises it.
 */
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import type { FlattenLimits } from './types.ts';

/** The defaults: far above real images (a large Python image has ~60,000 entries and ~30 layers). */
export const DEFAULT_FLATTEN_LIMITS: Readonly<FlattenLimits> = Object.freeze({
  maxEntries: 1_000_000,
  maxLayers: 500,
  maxPathBytes: 64 * 1024,
  maxNameBytes: 255,
});

type LayerName = Pick<Layer, 'index' | 'descriptor'>;

/** The limits in force: `given` over the defaults. E_USAGE when a value is not a positive integer. */
export function resolveLimits(given: Partial<FlattenLimits> | undefined): FlattenLimits {
  const out = { ...DEFAULT_FLATTEN_LIMITS };
  for (const key of Object.keys(DEFAULT_FLATTEN_LIMITS) as Array<keyof FlattenLimits>) {
    const v = given?.[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new CconvError('E_USAGE', `flatten limit ${key} must be a positive integer, not ${String(v)}`);
    out[key] = v;
  }
  return out;
}

/**
 * The cconv option that sets each limit (declared in src/cli/options/limits.ts), named by the hint
 * of an over-limit error together with the library option.
 */
export const LIMIT_FLAGS: Readonly<Record<keyof FlattenLimits, string>> = Object.freeze({
  maxEntries: '--max-entries',
  maxLayers: '--max-layers',
  maxPathBytes: '--max-path-bytes',
  maxNameBytes: '--max-name-bytes',
});

/** The error for going over limit `key`; `message` names the layer, the path and both numbers. */
export function overLimit(key: keyof FlattenLimits, message: string): CconvError {
  return new CconvError('E_UNSUPPORTED', message, {
    hint: `if the image is trusted, raise the limit with ${LIMIT_FLAGS[key]} N (flatten option limits.${key})`,
  });
}

/** `layer N (digest)` as every layer error starts. */
export function layerLabel(layer: LayerName): string {
  return `layer ${layer.index} (${layer.descriptor.digest})`;
}

/** A path for a message: quoted, cut after 200 characters. */
function shown(path: string): string {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}...` : path);
}

/**
 * Checks one tar member's name and link target against the path limits (bytes of UTF-8 as
 * stored). Throws E_UNSUPPORTED naming the layer and member.
 */
export function checkMemberPaths(limits: FlattenLimits, layer: LayerName, name: string, linkname: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes > limits.maxPathBytes) throw overLimit('maxPathBytes', `${layerLabel(layer)}: ${shown(name)}: path of ${bytes} bytes, over the limit of ${limits.maxPathBytes}`);
  if (bytes > limits.maxNameBytes) {
    for (const c of name.split('/')) {
      const n = Buffer.byteLength(c);
      if (n > limits.maxNameBytes) throw overLimit('maxNameBytes', `${layerLabel(layer)}: ${shown(name)}: path component of ${n} bytes, over the limit of ${limits.maxNameBytes}`);
    }
  }
  const link = Buffer.byteLength(linkname);
  if (link > limits.maxPathBytes) throw overLimit('maxPathBytes', `${layerLabel(layer)}: ${shown(name)}: link target of ${link} bytes, over the limit of ${limits.maxPathBytes}`);
}

/**
 * Counts entries over the whole image against `maxEntries`: every tar member of every layer
 * (whiteouts included) and every directory created implicitly as a parent. Deterministic: the
 * count depends only on the layers, in order.
 */
export class EntryBudget {
  private used = 0;

  constructor(private readonly max: number) {}

  /** Adds `n` entries of `layer`; E_UNSUPPORTED once the total is over the limit. */
  take(n: number, layer: LayerName): void {
    this.used += n;
    if (this.used > this.max) {
      throw overLimit('maxEntries', `${layerLabel(layer)}: over the limit of ${this.max} entries (tar members of all layers and implicit parent directories)`);
    }
  }
}
