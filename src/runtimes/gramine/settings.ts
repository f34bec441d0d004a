/**
 * GramineSettings: defaults, validation, and the `cconv.json` config file:
 *
 *   { "version": 1, "gramine": { "enclaveSize": "2G", "maxThreads": 64, ... } }
 *
 * Keys of "gramine" are the GramineSettings field names; unknown ones are an error (typos).
 * Other top-level sections belong to other modules and are ignored here.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../../errors.ts';
import type { GramineSettings } from './types.ts';

/** Defaults; README.md (runtimes/gramine) explains each choice. */
export const DEFAULT_GRAMINE_SETTINGS: Readonly<GramineSettings> = Object.freeze({
  enclaveSize: '1G',
  maxThreads: 32,
  edmm: false,
  isvProdId: 0,
  isvSvn: 0,
  debug: false,
  remoteAttestation: 'dcap',
  cpuFeatures: Object.freeze({}),
  logLevel: 'error',
  insecureArgs: false,
  allowUntrustedCode: false,
  pkglibdir: '/usr/lib/x86_64-linux-gnu/gramine',
  argvPath: '/cconv/argv',
  encryptedKeyName: 'default',
});

const SIZE_RE = /^(0x[0-9a-fA-F]+|[0-9]+)[KMG]?$/;
const LOG_LEVELS = ['none', 'error', 'warning', 'debug', 'trace', 'all'];
const OPTIONAL_FEATURES = ['unspecified', 'disabled', 'required'];
const HARDENING_FEATURES = ['disabled', 'required'];
const ABS_PATH_RE = /^\/(?:[^/\0]+\/)*[^/\0]+$/;

function bad(source: string, key: string, expected: string): CconvError {
  return new CconvError('E_CONFIG', `${source}: gramine.${key} must be ${expected}`);
}

function check(key: keyof GramineSettings, v: unknown, source: string): void {
  const isInt = (min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  switch (key) {
    case 'enclaveSize':
      if (typeof v !== 'string' || !SIZE_RE.test(v)) throw bad(source, key, 'a size such as "1G", "512M" or "0x40000K"');
      return;
    case 'maxThreads':
      if (!isInt(1, 65535)) throw bad(source, key, 'an integer from 1 to 65535');
      return;
    case 'isvProdId':
    case 'isvSvn':
      if (!isInt(0, 65535)) throw bad(source, key, 'an integer from 0 to 65535');
      return;
    case 'edmm':
    case 'debug':
    case 'insecureArgs':
    case 'allowUntrustedCode':
      if (typeof v !== 'boolean') throw bad(source, key, 'true or false');
      return;
    case 'remoteAttestation':
      if (v !== 'dcap' && v !== 'none') throw bad(source, key, '"dcap" or "none"');
      return;
    case 'logLevel':
      if (typeof v !== 'string' || !LOG_LEVELS.includes(v)) throw bad(source, key, `one of ${LOG_LEVELS.join(', ')}`);
      return;
    case 'pkglibdir':
    case 'argvPath':
      if (typeof v !== 'string' || !ABS_PATH_RE.test(v) || v.split('/').some((s) => s === '.' || s === '..')) {
        throw bad(source, key, 'a normalised absolute path');
      }
      return;
    case 'encryptedKeyName':
      if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(v)) throw bad(source, key, 'a key name ([A-Za-z0-9_.-]+)');
      return;
    case 'cpuFeatures': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(source, key, 'an object');
      for (const [f, value] of Object.entries(v)) {
        const allowed = f === 'mpx' || f === 'pkru' ? HARDENING_FEATURES : ['avx', 'avx512', 'amx'].includes(f) ? OPTIONAL_FEATURES : undefined;
        if (allowed === undefined) throw bad(source, `${key}.${f}`, 'one of avx, avx512, amx, mpx, pkru (unknown feature)');
        if (typeof value !== 'string' || !allowed.includes(value)) throw bad(source, `${key}.${f}`, `one of ${allowed.join(', ')}`);
      }
      return;
    }
  }
}

/**
 * Validates a partial settings object (unknown keys, types, ranges). Returns a copy without
 * undefined values. Throws E_CONFIG naming `source`.
 */
export function validateSettings(raw: unknown, source = 'settings'): Partial<GramineSettings> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CconvError('E_CONFIG', `${source}: gramine settings must be an object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (!(key in DEFAULT_GRAMINE_SETTINGS)) {
      throw new CconvError('E_CONFIG', `${source}: unknown setting gramine.${key}`, {
        hint: `known settings: ${Object.keys(DEFAULT_GRAMINE_SETTINGS).join(', ')}`,
      });
    }
    check(key as keyof GramineSettings, v, source);
    out[key] = key === 'cpuFeatures' ? { ...(v as object) } : v;
  }
  return out as Partial<GramineSettings>;
}

/** Layers settings: later layers win key by key (e.g. config file, then CLI flags). */
export function mergeSettings(...layers: ReadonlyArray<Partial<GramineSettings> | undefined>): Partial<GramineSettings> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer ?? {})) if (v !== undefined) out[k] = v;
  }
  return out as Partial<GramineSettings>;
}

/** Defaults filled in. Validates `given` (E_CONFIG). */
export function resolveSettings(given: Partial<GramineSettings> = {}): GramineSettings {
  const valid = validateSettings(given);
  return { ...DEFAULT_GRAMINE_SETTINGS, ...valid, cpuFeatures: { ...(valid.cpuFeatures ?? {}) } };
}

/** Parses the JSON of a cconv.json config file; returns its gramine settings (maybe empty). */
export function parseGramineConfig(json: unknown, source = 'cconv.json'): Partial<GramineSettings> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CconvError('E_CONFIG', `${source}: not a JSON object`);
  }
  const doc = json as Record<string, unknown>;
  if (doc['version'] !== 1) throw new CconvError('E_CONFIG', `${source}: unsupported version ${JSON.stringify(doc['version'])} (expected 1)`);
  return doc['gramine'] === undefined ? {} : validateSettings(doc['gramine'], source);
}

/** Reads a cconv.json config file (E_IO, E_CONFIG). */
export async function loadGramineConfig(file: string): Promise<Partial<GramineSettings>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading config ${file}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CconvError('E_CONFIG', `${file}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseGramineConfig(json, file);
}
