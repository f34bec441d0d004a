/**
 * Per-version Gramine constants (runtimes/gramine/<version>.json): the generated offsets the
 * reference signer uses (page size, SSA/TCS layout, TLS field offsets, attribute bits), the
 * library paths and the manifest defaults. Another Gramine version is one more data file.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../errors.ts';

/** Format tag every constants file carries. */
export const CONSTANTS_FORMAT = 'cconv.gramine-constants/v1';

/** Offsets a constants file must define (everything measure/ and enclave/ read). */
export const REQUIRED_OFFSETS = [
  'PAGESIZE', 'SSA_FRAME_SIZE', 'SSA_FRAME_NUM', 'TCS_SIZE', 'ENCLAVE_STACK_SIZE',
  'ENCLAVE_SIG_STACK_SIZE', 'DEFAULT_ENCLAVE_BASE', 'MMAP_MIN_ADDR', 'SGX_GPR_SIZE',
  'TCS_OSSA', 'TCS_NSSA', 'TCS_OENTRY', 'TCS_OGS_BASE', 'TCS_OFS_LIMIT', 'TCS_OGS_LIMIT',
  'SGX_COMMON_SELF', 'SGX_COMMON_STACK_PROTECTOR_CANARY', 'STACK_PROTECTOR_CANARY_DEFAULT',
  'SGX_ENCLAVE_SIZE', 'SGX_TCS_OFFSET', 'SGX_INITIAL_STACK_ADDR', 'SGX_SIG_STACK_LOW',
  'SGX_SIG_STACK_HIGH', 'SGX_SSA', 'SGX_GPR', 'SGX_MANIFEST_SIZE', 'SGX_HEAP_MIN', 'SGX_HEAP_MAX',
  'SGX_FLAGS_DEBUG', 'SGX_FLAGS_MODE64BIT', 'SGX_MISCSELECT_EXINFO', 'SGX_XFRM_LEGACY',
  'SGX_XFRM_AVX', 'SGX_XFRM_AVX512', 'SGX_XFRM_AMX', 'SGX_XFRM_MPX', 'SGX_XFRM_PKRU',
  'SGX_FLAGS_MASK_CONST', 'SGX_XFRM_MASK_CONST', 'SGX_MISCSELECT_MASK_CONST',
] as const;

/** Manifest keys the signer fills in when absent (manifest.py `Manifest.__init__`). */
export interface ManifestDefaults {
  readonly maxThreads: number;
  readonly enclaveSizeNoEdmm: string;
  readonly enclaveSizeWithEdmm: string;
  readonly isvprodid: number;
  readonly isvsvn: number;
  readonly remoteAttestation: string;
  /** In the order the signer inserts them. */
  readonly cpuFeatures: Readonly<Record<string, string>>;
}

/** Validated constants of one Gramine version. Sizes and offsets are in bytes. */
export interface GramineConstants {
  readonly version: string;
  readonly commit: string;
  /** Gramine's PKGLIBDIR on the signing host, e.g. /usr/lib/x86_64-linux-gnu/gramine. */
  readonly pkglibdir: string;
  /** Absolute path of the LibOS (default loader.entrypoint), `${pkglibdir}/libsysdb.so`. */
  readonly libosPath: string;
  /** Absolute path of the SGX PAL, `${pkglibdir}/sgx/libpal.so`. */
  readonly libpalPath: string;
  /**
   * Absolute path of the SGX host loader, `${pkglibdir}/sgx/loader`: the untrusted program that
   * `gramine-sgx` runs as `loader LIBPAL init APP ARGS...` to create the enclave (not measured).
   */
  readonly hostLoaderPath: string;
  readonly defaults: ManifestDefaults;
  /** Every offset of the file, by its Gramine name. */
  readonly offsets: ReadonlyMap<string, bigint>;
  /** The offset `name` as a bigint; throws E_INTERNAL when the file lacks it. */
  big(name: string): bigint;
  /** The offset `name` as a number (must be a safe integer); throws E_INTERNAL otherwise. */
  num(name: string): number;
}

function bad(what: string): CconvError {
  return new CconvError('E_CONFIG', `invalid Gramine constants: ${what}`);
}

function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw bad(`"${key}" must be a non-empty string`);
  return v;
}

function parseDefaults(raw: unknown): ManifestDefaults {
  if (typeof raw !== 'object' || raw === null) throw bad('"manifestDefaults" must be an object');
  const d = raw as Record<string, unknown>;
  const int = (k: string): number => {
    const v = d[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`manifestDefaults.${k}`);
    return v;
  };
  const cf = d.cpuFeatures;
  if (typeof cf !== 'object' || cf === null) throw bad('manifestDefaults.cpuFeatures');
  const cpuFeatures: Record<string, string> = {};
  for (const [k, v] of Object.entries(cf)) {
    if (typeof v !== 'string') throw bad(`manifestDefaults.cpuFeatures.${k}`);
    cpuFeatures[k] = v;
  }
  return {
    maxThreads: int('maxThreads'),
    isvprodid: int('isvprodid'),
    isvsvn: int('isvsvn'),
    enclaveSizeNoEdmm: str(d, 'enclaveSizeNoEdmm'),
    enclaveSizeWithEdmm: str(d, 'enclaveSizeWithEdmm'),
    remoteAttestation: str(d, 'remoteAttestation'),
    cpuFeatures,
  };
}

/** Validates a parsed constants file (pure). Throws E_CONFIG on any problem. */
export function parseGramineConstants(json: unknown): GramineConstants {
  if (typeof json !== 'object' || json === null) throw bad('not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.format !== CONSTANTS_FORMAT) throw bad(`"format" must be "${CONSTANTS_FORMAT}"`);
  const pkglibdir = str(o, 'pkglibdir').replace(/\/+$/, '');
  if (!pkglibdir.startsWith('/')) throw bad('"pkglibdir" must be absolute');
  const rawOffsets = o.offsets;
  if (typeof rawOffsets !== 'object' || rawOffsets === null) throw bad('"offsets" must be an object');
  const offsets = new Map<string, bigint>();
  for (const [name, v] of Object.entries(rawOffsets)) {
    if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) throw bad(`offset ${name} must be a hex string`);
    offsets.set(name, BigInt(v));
  }
  for (const name of REQUIRED_OFFSETS) if (!offsets.has(name)) throw bad(`offset ${name} is missing`);
  const big = (name: string): bigint => {
    const v = offsets.get(name);
    if (v === undefined) throw new CconvError('E_INTERNAL', `Gramine constant ${name} is not defined`);
    return v;
  };
  const num = (name: string): number => {
    const v = big(name);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CconvError('E_INTERNAL', `Gramine constant ${name} is too large`);
    return Number(v);
  };
  const page = num('PAGESIZE');
  if (page < 256 || (page & (page - 1)) !== 0) throw bad('PAGESIZE must be a power of two >= 256');
  for (const n of ['SSA_FRAME_SIZE', 'TCS_SIZE', 'ENCLAVE_STACK_SIZE', 'ENCLAVE_SIG_STACK_SIZE', 'MMAP_MIN_ADDR']) {
    if (num(n) % page !== 0 || num(n) === 0) throw bad(`${n} must be a non-zero multiple of PAGESIZE`);
  }
  if (num('SSA_FRAME_NUM') < 1) throw bad('SSA_FRAME_NUM must be at least 1');
  return {
    version: str(o, 'gramineVersion'),
    commit: str(o, 'gramineCommit'),
    pkglibdir,
    libosPath: `${pkglibdir}/${str(o, 'libos')}`,
    libpalPath: `${pkglibdir}/${str(o, 'libpal')}`,
    hostLoaderPath: `${pkglibdir}/${str(o, 'hostLoader')}`,
    defaults: parseDefaults(o.manifestDefaults),
    offsets,
    big,
    num,
  };
}

/** Folder holding the per-version files shipped with cconv. */
export const GRAMINE_RUNTIME_DIR = new URL('../../runtimes/gramine/', import.meta.url);

/**
 * Reads and validates `runtimes/gramine/<version>.json` (or `file` when given). Throws E_IO when
 * the file cannot be read, E_CONFIG when it is invalid.
 */
export async function loadGramineConstants(version = '1.9', file?: string | URL): Promise<GramineConstants> {
  if (file === undefined && !/^[0-9A-Za-z._-]+$/.test(version)) throw bad(`bad version name ${JSON.stringify(version)}`);
  const where = file ?? new URL(`${version}.json`, GRAMINE_RUNTIME_DIR);
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading Gramine constants ${String(where)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CconvError('E_CONFIG', `invalid Gramine constants ${String(where)}: not JSON`, { cause: err });
  }
  return parseGramineConstants(json);
}
