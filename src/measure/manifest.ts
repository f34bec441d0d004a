/**
 * The signer's manifest completion (manifest.py `Manifest.__init__` + `expand_all_trusted_files`,
 * then `tomli_w.dumps`): defaults are inserted with Python's `setdefault` semantics (an existing
 * key keeps its place and value, a new key goes last), `loader.entrypoint.sha256` is filled from
 * the LibOS on the signing host, trusted files are expanded inside the image root and written as
 * `{ uri, sha256 }` tables. The result is the exact `.manifest.sgx` bytes MRENCLAVE covers.
 */
import { createHash } from 'node:crypto';
import { CconvError } from '../errors.ts';
import type { Reporter } from '../progress.ts';
import type { Rootfs } from '../rootfs/types.ts';
import { pathParts } from './chroot.ts';
import type { GramineConstants } from './constants.ts';
import { parseSize } from './size.ts';
import { dumpManifestToml, isTable, parseManifestToml, type TomlTable, type TomlValue } from './toml.ts';
import { expandTrustedFiles, type TrustedFile, type TrustedFileSpec } from './trusted.ts';

/** File content handed in by the caller: its sha256 (hex), its bytes, or a stream of them. */
export type ContentSource = { sha256: string } | Uint8Array | AsyncIterable<Uint8Array>;

/** Options of `applyManifestDefaults` and `completeManifest`. */
export interface CompleteOptions {
  constants: GramineConstants;
  /** The LibOS at `constants.libosPath` on the signing host (hashed for loader.entrypoint.sha256). */
  libos?: ContentSource;
  /** Hashes another host file named by loader.entrypoint.uri (absolute path) -> hex sha256. */
  hashHostFile?: (path: string) => Promise<string>;
  /** The image root trusted files are expanded and hashed in. */
  rootfs?: Rootfs;
  report?: Reporter;
}

/** The sgx settings the enclave layout depends on, validated. */
export interface SgxSettings {
  /** Bytes; a power of two. */
  enclaveSize: number;
  maxThreads: number;
  edmm: boolean;
  isvProdId: number;
  isvSvn: number;
}

/** A completed manifest: the document, its exact bytes, and the expanded trusted files. */
export interface CompletedManifest {
  manifest: TomlTable;
  /** The `.manifest.sgx` bytes (UTF-8 TOML), measured by MRENCLAVE. */
  bytes: Buffer;
  trustedFiles: TrustedFile[];
  settings: SgxSettings;
}

function tmpl(message: string): CconvError {
  return new CconvError('E_MANIFEST_TEMPLATE', message);
}

/** Deep copy of a TOML value (tables keep key order). */
export function cloneToml<T extends TomlValue>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => cloneToml(x)) as T;
  if (isTable(v)) {
    const out: TomlTable = {};
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: cloneToml(v[k] as TomlValue), enumerable: true, writable: true, configurable: true });
    return out as T;
  }
  return v;
}

function table(parent: TomlTable, key: string, path: string): TomlTable {
  if (!Object.hasOwn(parent, key)) parent[key] = {};
  const t = parent[key];
  if (!isTable(t)) throw tmpl(`${path} must be a TOML table`);
  return t;
}

function setDefault(t: TomlTable, key: string, value: TomlValue): void {
  if (!Object.hasOwn(t, key)) t[key] = value;
}

function truthy(v: TomlValue | undefined): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isTable(v)) return Object.keys(v).length > 0;
  return Boolean(v) && v !== 0n;
}

async function sha256Of(src: ContentSource): Promise<string> {
  if ('sha256' in src && typeof src.sha256 === 'string') {
    if (!/^[0-9a-f]{64}$/.test(src.sha256)) throw new CconvError('E_USAGE', 'LibOS sha256 must be 64 lowercase hex digits');
    return src.sha256;
  }
  const h = createHash('sha256');
  if (src instanceof Uint8Array) h.update(src);
  else for await (const chunk of src as AsyncIterable<Uint8Array>) h.update(chunk);
  return h.digest('hex');
}

function normPath(p: string): string {
  return `/${pathParts(p).join('/')}`;
}

async function entrypointSha256(uri: TomlValue, opts: CompleteOptions): Promise<string> {
  if (typeof uri !== 'string' || !uri.startsWith('file:')) throw tmpl(`unsupported loader.entrypoint.uri ${JSON.stringify(uri)}`);
  const path = uri.slice('file:'.length);
  if (path.startsWith('/') && normPath(path) === normPath(opts.constants.libosPath) && opts.libos !== undefined) {
    return sha256Of(opts.libos);
  }
  if (opts.hashHostFile !== undefined && path.startsWith('/')) return opts.hashHostFile(normPath(path));
  throw tmpl(`cannot hash loader.entrypoint ${JSON.stringify(uri)}: no content supplied for it`);
}

/**
 * Applies the signer's defaults to a copy of `doc` (Manifest.__init__). Trusted files are
 * normalised to tables with `uri`. Throws E_MANIFEST_TEMPLATE on malformed keys.
 */
export async function applyManifestDefaults(doc: TomlTable, opts: CompleteOptions): Promise<TomlTable> {
  const m = cloneToml(doc);
  applySgxDefaults(m, opts.constants);
  const loader = table(m, 'loader', 'loader');
  const entry = table(loader, 'entrypoint', 'loader.entrypoint');
  if (!Object.hasOwn(entry, 'uri')) entry.uri = `file:${opts.constants.libosPath}`;
  if (!Object.hasOwn(entry, 'sha256')) entry.sha256 = await entrypointSha256(entry.uri as TomlValue, opts);
  return m;
}

/**
 * The `sgx` part of the defaults, applied in place to `m` (no hashing involved); returns the sgx
 * table. Trusted files are normalised to tables with `uri`.
 */
export function applySgxDefaults(m: TomlTable, constants: GramineConstants): TomlTable {
  const d = constants.defaults;
  const sgx = table(m, 'sgx', 'sgx');
  setDefault(sgx, 'trusted_files', []);
  setDefault(sgx, 'max_threads', BigInt(d.maxThreads));
  setDefault(sgx, 'isvprodid', BigInt(d.isvprodid));
  setDefault(sgx, 'isvsvn', BigInt(d.isvsvn));
  setDefault(sgx, 'remote_attestation', d.remoteAttestation);
  setDefault(sgx, 'debug', false);
  setDefault(sgx, 'enable_stats', false);
  setDefault(sgx, 'edmm_enable', false);
  setDefault(sgx, 'enclave_size', truthy(sgx.edmm_enable) ? d.enclaveSizeWithEdmm : d.enclaveSizeNoEdmm);
  setDefault(sgx, 'use_exinfo', false);
  const cpu = table(sgx, 'cpu_features', 'sgx.cpu_features');
  for (const [k, v] of Object.entries(d.cpuFeatures)) setDefault(cpu, k, v);

  const tfs = sgx.trusted_files;
  if (!Array.isArray(tfs)) throw tmpl('sgx.trusted_files must be an array (see Gramine manifest syntax)');
  const normalised: TomlValue[] = tfs.map((tf) => {
    if (isTable(tf) && Object.hasOwn(tf, 'uri')) return tf;
    if (typeof tf === 'string') return { uri: tf };
    throw tmpl(`unknown trusted file format: ${JSON.stringify(tf, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  });
  sgx.trusted_files = normalised;
  return sgx;
}

function intIn(v: TomlValue | undefined, key: string, min: number, max: number, code: 'E_MANIFEST_TEMPLATE' | 'E_ENCLAVE_LAYOUT'): number {
  if (typeof v !== 'bigint' || v < BigInt(min) || v > BigInt(max)) {
    throw new CconvError(code, `sgx.${key} must be an integer from ${min} to ${max}`);
  }
  return Number(v);
}

function bool(v: TomlValue | undefined, key: string): boolean {
  if (typeof v !== 'boolean') throw tmpl(`sgx.${key} must be true or false`);
  return v;
}

/**
 * Reads and validates the settings the layout and SIGSTRUCT need from a defaults-applied `sgx`
 * table: enclave_size (power of two, E_ENCLAVE_LAYOUT), max_threads (1..65536, E_ENCLAVE_LAYOUT),
 * isvprodid/isvsvn (0..65535), debug/edmm_enable/use_exinfo booleans (E_MANIFEST_TEMPLATE).
 */
export function readSgxSettings(sgx: TomlTable): SgxSettings {
  const size = parseSize(sgx.enclave_size, 'sgx.enclave_size');
  if (size === 0n || (size & (size - 1n)) !== 0n || size > 2n ** 52n) {
    throw new CconvError('E_ENCLAVE_LAYOUT', `sgx.enclave_size = ${JSON.stringify(sgx.enclave_size)} must be a power of two (at most 4P)`);
  }
  bool(sgx.debug, 'debug');
  bool(sgx.use_exinfo, 'use_exinfo');
  return {
    enclaveSize: Number(size),
    maxThreads: intIn(sgx.max_threads, 'max_threads', 1, 65536, 'E_ENCLAVE_LAYOUT'),
    edmm: bool(sgx.edmm_enable, 'edmm_enable'),
    isvProdId: intIn(sgx.isvprodid, 'isvprodid', 0, 0xffff, 'E_MANIFEST_TEMPLATE'),
    isvSvn: intIn(sgx.isvsvn, 'isvsvn', 0, 0xffff, 'E_MANIFEST_TEMPLATE'),
  };
}

function toSpec(v: TomlValue): TrustedFileSpec {
  const t = v as TomlTable;
  const extra = Object.keys(t).filter((k) => k !== 'uri' && k !== 'sha256');
  if (extra.length > 0) throw new CconvError('E_TRUSTED_FILE', `leftover trusted file keys: ${extra.join(', ')}`);
  if (typeof t.uri !== 'string') throw new CconvError('E_TRUSTED_FILE', 'trusted file uri must be a string');
  if (t.sha256 === undefined) return { uri: t.uri };
  if (typeof t.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(t.sha256)) {
    throw new CconvError('E_TRUSTED_FILE', `trusted file ${JSON.stringify(t.uri)}: sha256 must be 64 hex digits`);
  }
  return { uri: t.uri, sha256: t.sha256 };
}

/**
 * Completes a manifest (TOML text or parsed document) as `gramine-sgx-sign --chroot` does and
 * returns the exact `.manifest.sgx` bytes. The input is not modified.
 */
export async function completeManifest(input: string | TomlTable, opts: CompleteOptions): Promise<CompletedManifest> {
  const doc = typeof input === 'string' ? parseManifestToml(input) : input;
  const manifest = await applyManifestDefaults(doc, opts);
  const sgx = manifest.sgx as TomlTable;
  const settings = readSgxSettings(sgx);
  const specs = (sgx.trusted_files as TomlValue[]).map(toSpec);
  const trustedFiles = await expandTrustedFiles(specs, opts.rootfs, opts.report === undefined ? {} : { report: opts.report });
  sgx.trusted_files = trustedFiles.map((tf) => ({ uri: tf.uri, sha256: tf.sha256 }));
  return { manifest, bytes: Buffer.from(dumpManifestToml(manifest), 'utf8'), trustedFiles, settings };
}
