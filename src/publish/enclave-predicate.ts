/**
 * The enclave predicate (`https://cconv.dev/attestation/sgx-enclave/v1`): who the enclave in an
 * image is (MRENCLAVE, MRSIGNER, ISV ids, attributes), what it runs, and digests of what it trusts.
 * Also the image labels cconv writes these values to, and reading them back.
 */
import { LABELS } from '../assemble/config.ts';
import { createHash } from 'node:crypto';
import { CconvError } from '../errors.ts';
import type { EnclaveIdentity, IdentityAttributes } from '../enclave/index.ts';

/** Predicate type of the enclave predicate (a stable URI; a breaking change gets /v2). */
export const ENCLAVE_PREDICATE_TYPE = 'https://cconv.dev/attestation/sgx-enclave/v1';

/** Image config labels the assembler writes and the verifier compares with (one definition: assemble's). */
export const ENCLAVE_LABELS = LABELS;

/** The enclave predicate. Optional members are omitted when the attester does not know them. */
export interface EnclavePredicate {
  /** 64 lowercase hex digits. */
  mrenclave: string;
  /** 64 lowercase hex digits. */
  mrsigner: string;
  isvProdId?: number;
  isvSvn?: number;
  /** SIGSTRUCT attributes as `cconv gramine sign --json` prints them (64-bit values as `0x` hex). */
  attributes?: IdentityAttributes;
  debug?: boolean;
  runtime?: { name: string; version: string };
  trustedFiles?: { count: number; digest: string };
  /** Paths (in the enclave's file system) of encrypted files, sorted. */
  encryptedPaths: string[];
  /** Release-policy name -> `sha256:<hex>` of its file. */
  releasePolicyDigests: Record<string, string>;
}

/** What `enclavePredicate` takes: the identity plus optional build facts. */
export interface EnclavePredicateInput {
  /** The signed identity (`date` is ignored: it is not part of the enclave's identity). */
  identity: Omit<EnclaveIdentity, 'date'> & { date?: string };
  runtime?: { name: string; version: string };
  /** Trusted files in manifest order. */
  trustedFiles?: ReadonlyArray<{ uri: string; sha256: string }>;
  encryptedPaths?: readonly string[];
  releasePolicyDigests?: Readonly<Record<string, string>>;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The canonical trusted-file list: one line `URI<TAB>SHA256<LF>` per file, in manifest order,
 * sha256 lowercase hex. A URI holding a tab or newline is E_TRUSTED_FILE (it could forge lines).
 */
export function trustedFilesList(files: ReadonlyArray<{ uri: string; sha256: string }>): string {
  return files
    .map((f) => {
      if (/[\t\n]/.test(f.uri)) throw new CconvError('E_TRUSTED_FILE', `trusted file URI holds a tab or newline: ${JSON.stringify(f.uri)}`);
      if (!HEX64.test(f.sha256)) throw new CconvError('E_TRUSTED_FILE', `trusted file ${f.uri} has no lowercase hex sha256`);
      return `${f.uri}\t${f.sha256}\n`;
    })
    .join('');
}

/** `{ count, digest }` of a trusted-file list; digest is `sha256:` over `trustedFilesList`. */
export function trustedFilesDigest(files: ReadonlyArray<{ uri: string; sha256: string }>): { count: number; digest: string } {
  const hex = createHash('sha256').update(trustedFilesList(files), 'utf8').digest('hex');
  return { count: files.length, digest: `sha256:${hex}` };
}

function checkMeasurement(value: string, what: string): string {
  if (!HEX64.test(value)) throw new CconvError('E_USAGE', `${what} must be 64 lowercase hex digits`);
  return value;
}

/** Builds the predicate; encrypted paths are sorted, measurements checked. */
export function enclavePredicate(input: EnclavePredicateInput): EnclavePredicate {
  const id = input.identity;
  const out: EnclavePredicate = {
    mrenclave: checkMeasurement(id.mrenclave, 'MRENCLAVE'),
    mrsigner: checkMeasurement(id.mrsigner, 'MRSIGNER'),
    isvProdId: id.isvProdId,
    isvSvn: id.isvSvn,
    attributes: id.attributes,
    debug: id.debug,
    encryptedPaths: [...(input.encryptedPaths ?? [])].sort(),
    releasePolicyDigests: { ...input.releasePolicyDigests },
  };
  if (input.runtime !== undefined) out.runtime = input.runtime;
  if (input.trustedFiles !== undefined) out.trustedFiles = trustedFilesDigest(input.trustedFiles);
  return out;
}

function labelInt(labels: Record<string, string>, key: string): number | undefined {
  const v = labels[key];
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 0xffff) throw new CconvError('E_MANIFEST_INVALID', `image label ${key}=${JSON.stringify(v)} is not a 16-bit number`);
  return Number(v);
}

/**
 * The predicate an image's labels support (used when no enclave JSON is given): MRENCLAVE and
 * MRSIGNER are required (E_USAGE without them); ISV ids, debug and runtime are taken when present.
 */
export function predicateFromLabels(labels: Record<string, string>): EnclavePredicate {
  const mrenclave = labels[ENCLAVE_LABELS.mrenclave];
  const mrsigner = labels[ENCLAVE_LABELS.mrsigner];
  if (mrenclave === undefined || mrsigner === undefined) {
    throw new CconvError('E_USAGE', `the image has no ${ENCLAVE_LABELS.mrenclave} / ${ENCLAVE_LABELS.mrsigner} labels`, { hint: 'attest an image built by cconv build, or give the identity with --enclave-json' });
  }
  const out: EnclavePredicate = { mrenclave: checkMeasurement(mrenclave, 'label MRENCLAVE'), mrsigner: checkMeasurement(mrsigner, 'label MRSIGNER'), encryptedPaths: [], releasePolicyDigests: {} };
  const prod = labelInt(labels, ENCLAVE_LABELS.isvProdId);
  const svn = labelInt(labels, ENCLAVE_LABELS.isvSvn);
  if (prod !== undefined) out.isvProdId = prod;
  if (svn !== undefined) out.isvSvn = svn;
  const debug = labels[ENCLAVE_LABELS.debug];
  if (debug === 'true' || debug === 'false') out.debug = debug === 'true';
  const name = labels[ENCLAVE_LABELS.runtime];
  const version = labels[ENCLAVE_LABELS.runtimeVersion];
  if (name !== undefined && version !== undefined) out.runtime = { name, version };
  return out;
}

/**
 * Validates a parsed enclave predicate (from `--enclave-json` or a verified statement): the two
 * measurements must be 64 lowercase hex digits; other members must have their documented types.
 * Failures are `code` (E_USAGE for user files, E_ATTESTATION for signed statements).
 */
export function parseEnclavePredicate(value: unknown, what: string, code: 'E_USAGE' | 'E_ATTESTATION' = 'E_USAGE'): EnclavePredicate {
  const fail = (detail: string): never => {
    throw new CconvError(code, `${what}: ${detail}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const v = value as Record<string, unknown>;
  for (const k of ['mrenclave', 'mrsigner'] as const) if (typeof v[k] !== 'string' || !HEX64.test(v[k])) fail(`${k} must be 64 lowercase hex digits`);
  for (const k of ['isvProdId', 'isvSvn'] as const) if (v[k] !== undefined && (!Number.isInteger(v[k]) || (v[k] as number) < 0 || (v[k] as number) > 0xffff)) fail(`${k} must be a 16-bit integer`);
  if (v.debug !== undefined && typeof v.debug !== 'boolean') fail('debug must be a boolean');
  if (v.encryptedPaths !== undefined && !(Array.isArray(v.encryptedPaths) && v.encryptedPaths.every((p) => typeof p === 'string'))) fail('encryptedPaths must be a list of strings');
  const digests = v.releasePolicyDigests;
  if (digests !== undefined && (typeof digests !== 'object' || digests === null || Object.values(digests).some((d) => typeof d !== 'string'))) fail('releasePolicyDigests must map names to digest strings');
  return { ...(v as unknown as EnclavePredicate), encryptedPaths: (v.encryptedPaths as string[] | undefined) ?? [], releasePolicyDigests: (digests as Record<string, string> | undefined) ?? {} };
}
