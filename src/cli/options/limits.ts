/**
 * The bounds of flattening (src/rootfs/limits.ts) as options of every command that flattens an
 * image: --max-entries, --max-layers, --max-path-bytes, --max-name-bytes. One set applies to every
 * image the command reads (for measure and sign, the runtime image too). An unset flag keeps the
 * library's default. Imports nothing but types and errors, so a command's usage loads it cheaply.
 */
import type { Argv } from 'yargs';
import { CconvError } from '../../errors.ts';
import type { FlattenLimits } from '../../rootfs/types.ts';

/** Parsed limit options (camel-cased by yargs, so each field is named as the limit it sets). */
export type LimitsArgs = Partial<Record<keyof FlattenLimits, unknown>>;

const GROUP = 'Image limits (raise them only for a trusted image):';

/**
 * Each limit's flag (without `--`), help text and default as shown (DEFAULT_FLATTEN_LIMITS, written
 * out so that usage does not load the library). The hint of an over-limit error names the same
 * flags (LIMIT_FLAGS); test/unit/cli-limits.test.ts checks that both agree.
 */
export const LIMIT_OPTIONS: Record<keyof FlattenLimits, { flag: string; describe: string; default: string }> = {
  maxEntries: { flag: 'max-entries', describe: 'most entries: tar members of all layers and implicit parent dirs', default: '1000000' },
  maxLayers: { flag: 'max-layers', describe: 'most layers in an image', default: '500' },
  maxPathBytes: { flag: 'max-path-bytes', describe: 'longest path or link target of a layer member, in bytes', default: '65536' },
  maxNameBytes: { flag: 'max-name-bytes', describe: 'longest path component (file name), in bytes', default: '255' },
};

/** Adds --max-entries, --max-layers, --max-path-bytes and --max-name-bytes. */
export function limitOptions(y: Argv): Argv {
  let out = y;
  for (const { flag, describe, default: shown } of Object.values(LIMIT_OPTIONS)) {
    out = out.option(flag, { type: 'number', group: GROUP, describe, defaultDescription: shown });
  }
  return out;
}

/**
 * The limits given on the command line (only the flags present), for FlattenOptions.limits.
 * E_USAGE naming the flag when a value is not a positive integer: yargs gives NaN for a word, an
 * array for a repeated flag, and a present key holding undefined for a flag without a value.
 */
export function limitsFrom(args: LimitsArgs): Partial<FlattenLimits> {
  const limits: Partial<FlattenLimits> = {};
  for (const key of Object.keys(LIMIT_OPTIONS) as Array<keyof FlattenLimits>) {
    if (!Object.hasOwn(args, key)) continue;
    const v = args[key];
    const flag = `--${LIMIT_OPTIONS[key].flag}`;
    if (v === undefined) throw new CconvError('E_USAGE', `${flag} needs a value`, { hint: `e.g. ${flag} ${LIMIT_OPTIONS[key].default}` });
    if (Array.isArray(v)) throw new CconvError('E_USAGE', `${flag} is given more than once`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      throw new CconvError('E_USAGE', `${flag} must be a positive integer, not ${String(v)}`, { hint: `the default is ${LIMIT_OPTIONS[key].default}` });
    }
    limits[key] = v;
  }
  return limits;
}
