/**
 * Merging a user manifest fragment over what cconv built (template + settings + image config).
 *
 * - Tables merge key by key; a scalar or a table in the fragment replaces what was there.
 * - `fs.mounts`: a fragment mount at a path already mounted replaces that mount in place, others
 *   are appended. `sgx.trusted_files`, `sgx.allowed_files`: fragment entries are appended, a URI
 *   already listed is kept once (two different sha256 values for one URI are an error). Any other
 *   array is replaced.
 * - Refused (E_MANIFEST_TEMPLATE naming the key): changing a key cconv must own (PROTECTED_KEYS,
 *   the mounts at '/' and of the runtime), changing a key that an explicitly given setting
 *   produced, and debug-only keys (sgx.debug = true, stats, profiling, allow_all_but_log) without
 *   the debug setting. Setting a protected key to the value cconv chose is accepted.
 */
import { CconvError } from '../../errors.ts';
import type { ManifestTable, ManifestValue } from './types.ts';

/** Keys a fragment may not change: they are derived from the image and the runtime layout. */
export const PROTECTED_KEYS: readonly string[] = [
  'loader.entrypoint',
  'libos.entrypoint',
  'fs.root',
  'loader.argv',
  'loader.argv_src_file',
  'loader.insecure__use_cmdline_argv',
];

/** What the merge must know besides the two documents. */
export interface MergeContext {
  /** Dotted manifest keys produced by explicitly given settings, with the setting's name. */
  explicit: ReadonlyMap<string, string>;
  /** The debug setting. */
  debug: boolean;
  /** Mount paths a fragment may not replace. */
  protectedMounts: readonly string[];
}

function refuse(key: string, why: string, hint?: string): CconvError {
  return new CconvError('E_MANIFEST_TEMPLATE', `manifest fragment key ${key}: ${why}`, hint === undefined ? {} : { hint });
}

function isTable(v: ManifestValue | undefined): v is ManifestTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural equality; a bigint and a number with the same value are equal. */
export function sameValue(a: ManifestValue | undefined, b: ManifestValue | undefined): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return BigInt(a) === BigInt(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isTable(a) && isTable(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]));
  }
  return a === b;
}

function checkDebugOnly(key: string, value: ManifestValue, ctx: MergeContext): void {
  if (ctx.debug) return;
  const needsDebug =
    (key === 'sgx.debug' && value === true) ||
    ((key === 'sgx.enable_stats' || key === 'sgx.vtune_profile') && value === true) ||
    (key === 'sgx.profile.enable' && value !== 'none') ||
    (key === 'sgx.file_check_policy' && value === 'allow_all_but_log');
  if (needsDebug) throw refuse(key, 'is only allowed in a debug enclave', 'build with the debug setting (--debug) to use it');
}

function uriOf(entry: ManifestValue): string | undefined {
  if (typeof entry === 'string') return entry;
  if (isTable(entry) && typeof entry['uri'] === 'string') return entry['uri'];
  return undefined;
}

function mergeFileList(key: string, base: ManifestValue[], extra: ManifestValue[]): ManifestValue[] {
  const out = [...base];
  const byUri = new Map<string, number>();
  out.forEach((e, i) => {
    const uri = uriOf(e);
    if (uri !== undefined && !byUri.has(uri)) byUri.set(uri, i);
  });
  for (const entry of extra) {
    const uri = uriOf(entry);
    if (uri === undefined) throw refuse(key, `entry ${JSON.stringify(entry, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))} has no uri`);
    const at = byUri.get(uri);
    if (at === undefined) {
      byUri.set(uri, out.length);
      out.push(entry);
      continue;
    }
    const old = out[at]!;
    const oldSha = isTable(old) ? old['sha256'] : undefined;
    const newSha = isTable(entry) ? entry['sha256'] : undefined;
    if (oldSha !== undefined && newSha !== undefined && !sameValue(oldSha, newSha)) {
      throw refuse(key, `two different sha256 values for ${uri}`);
    }
    if (oldSha === undefined && newSha !== undefined) out[at] = entry;
  }
  return out;
}

function mergeMounts(base: ManifestValue[], extra: ManifestValue[], ctx: MergeContext): ManifestValue[] {
  const out = [...base];
  for (const mount of extra) {
    const path = isTable(mount) ? mount['path'] : undefined;
    if (typeof path !== 'string') throw refuse('fs.mounts', 'every mount needs a string path');
    const norm = path.length > 1 ? path.replace(/\/+$/, '') : path;
    if (ctx.protectedMounts.includes(norm)) {
      throw refuse('fs.mounts', `mount at ${norm} would replace the image root or the Gramine runtime`);
    }
    const at = out.findIndex((m) => isTable(m) && m['path'] === norm);
    if (at >= 0) out[at] = mount;
    else out.push(mount);
  }
  return out;
}

function mergeInto(base: ManifestTable, fragment: ManifestTable, prefix: string, ctx: MergeContext): void {
  for (const [k, value] of Object.entries(fragment)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    checkDebugOnly(key, value, ctx);
    if (PROTECTED_KEYS.includes(key)) {
      if (!sameValue(base[k], value)) {
        throw refuse(key, 'is set by cconv from the image config and the runtime layout', 'remove it from the fragment');
      }
      continue;
    }
    const setting = ctx.explicit.get(key);
    if (setting !== undefined && !isTable(value)) {
      if (!sameValue(base[k], value)) throw refuse(key, `contradicts the setting ${setting}`, `set only one of them`);
      continue;
    }
    const old = base[k];
    if (key === 'fs.mounts' && Array.isArray(value)) {
      base[k] = mergeMounts(Array.isArray(old) ? old : [], value, ctx);
    } else if ((key === 'sgx.trusted_files' || key === 'sgx.allowed_files') && Array.isArray(value)) {
      base[k] = mergeFileList(key, Array.isArray(old) ? old : [], value);
    } else if (isTable(value) && isTable(old)) {
      mergeInto(old, value, key, ctx);
    } else if (isTable(value)) {
      base[k] = {};
      mergeInto(base[k] as ManifestTable, value, key, ctx);
    } else {
      base[k] = value;
    }
  }
}

/** Merges `fragment` into `base` in place (see the module comment). Throws E_MANIFEST_TEMPLATE. */
export function mergeFragment(base: ManifestTable, fragment: ManifestTable, ctx: MergeContext): ManifestTable {
  mergeInto(base, fragment, '', ctx);
  return base;
}
