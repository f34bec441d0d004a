/**
 * Which Gramine a runtime image holds, read from the image itself: the version line of its
 * `gramine-sgx` script (`echo "Gramine 1.9 (v1.9)"`, what `gramine-sgx --version` prints), else
 * `__version__` of the installed `graminelibos` python package. cconv's layout constants
 * (runtimes/gramine/<series>.json) must be those of that version: another Gramine lays the
 * enclave out differently, and every MRENCLAVE would be wrong.
 */
import { readdir } from 'node:fs/promises';
import { CconvError } from '../errors.ts';
import { GRAMINE_RUNTIME_DIR } from '../measure/index.ts';
import { readFiles } from '../rootfs/index.ts';
import type { Rootfs } from '../rootfs/types.ts';

/** Where Gramine's packages install the launcher script. */
export const GRAMINE_SGX_SCRIPT = '/usr/bin/gramine-sgx';

const MAX_BYTES = 1 << 20;
const SCRIPT_VERSION = /^\s*echo\s+["']?Gramine\s+([0-9]+\.[0-9]+[^\s"'()]*)/m;
const PYTHON_VERSION = /^__version__\s*=\s*['"]([0-9]+\.[0-9]+[^'"]*)['"]/m;

/** A detected version and the file it was read from. */
export interface DetectedVersion {
  version: string;
  /** `major.minor`, the name of the constants file that applies. */
  series: string;
  from: string;
}

/** `major.minor` of a Gramine version string ("1.9post~UNRELEASED" -> "1.9"), or undefined. */
export function versionSeries(version: string): string | undefined {
  const m = /^([0-9]+)\.([0-9]+)/.exec(version);
  return m === null ? undefined : `${Number(m[1])}.${Number(m[2])}`;
}

/** The Gramine version of a runtime image, or undefined when neither file says. One pass over the layers. */
export async function detectGramineVersion(rootfs: Rootfs): Promise<DetectedVersion | undefined> {
  const candidates = new Map<string, 'script' | 'python'>(); // real path -> kind
  const script = rootfs.resolve(GRAMINE_SGX_SCRIPT.slice(1));
  if (script?.type === 'file') candidates.set(script.path, 'script');
  for (const e of rootfs.entries()) {
    if (e.type === 'file' && e.path.endsWith('/graminelibos/__init__.py')) candidates.set(e.path, 'python');
  }
  const found: Array<DetectedVersion & { kind: 'script' | 'python' }> = [];
  for (const [path, bytes] of await readFiles(rootfs, candidates.keys(), MAX_BYTES)) {
    const kind = candidates.get(path)!;
    const m = (kind === 'script' ? SCRIPT_VERSION : PYTHON_VERSION).exec(bytes.toString('utf8'));
    if (m !== null) found.push({ version: m[1]!, series: versionSeries(m[1]!)!, from: `/${path}`, kind });
  }
  found.sort((a, b) => (a.kind === b.kind ? a.from.localeCompare(b.from) : a.kind === 'script' ? -1 : 1));
  const first = found[0];
  return first === undefined ? undefined : { version: first.version, series: first.series, from: first.from };
}

/** The Gramine series cconv has layout constants for, sorted. */
export async function knownSeries(): Promise<string[]> {
  const names = await readdir(GRAMINE_RUNTIME_DIR).catch(() => [] as string[]);
  return names.filter((n) => /^[0-9]+\.[0-9]+\.json$/.test(n)).map((n) => n.slice(0, -'.json'.length)).sort();
}

/**
 * The constants version to use for a runtime image: `requested` when the user gave one (a
 * mismatch with the image is then the user's call), else the image's own series, which must have
 * a constants file. E_CONFIG naming both versions otherwise.
 */
export async function chooseGramineVersion(detected: DetectedVersion | undefined, requested: string | undefined): Promise<string> {
  if (requested !== undefined) return requested;
  if (detected === undefined) return '1.9';
  const known = await knownSeries();
  if (known.includes(detected.series)) return detected.series;
  throw new CconvError('E_CONFIG', `the runtime image holds Gramine ${detected.version} (${detected.from}), but cconv has layout constants for Gramine ${known.join(', ')} only`, {
    hint: `use a Gramine ${known.at(-1) ?? '1.9'} runtime image, or pass --gramine-version ${known.at(-1) ?? '1.9'} if you know its layout is the same`,
  });
}
