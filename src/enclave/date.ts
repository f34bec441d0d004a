/**
 * The SIGSTRUCT signing date. The SDM calls it "yyyymmdd in hex"; Intel's SDK and Gramine store
 * each part as hex digits that read like the decimal value (binary-coded decimal): 2026-01-01 is
 * the bytes `01 01 26 20` (day u8, month u8, year le16). Pure code: the clock and the
 * SOURCE_DATE_EPOCH value are handed in by the caller.
 */
import { CconvError } from '../errors.ts';

/** A calendar date as stored in SIGSTRUCT.DATE (year 1..9999, month 1..12, day 1..31). */
export interface SigstructDate {
  year: number;
  month: number;
  day: number;
}

/** Throws E_USAGE unless `d` is a real calendar date with a year in 1..9999. */
export function checkSigstructDate(d: SigstructDate): void {
  const ok =
    Number.isInteger(d.year) && Number.isInteger(d.month) && Number.isInteger(d.day) &&
    d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
    d.day <= daysInMonth(d.year, d.month);
  if (!ok) {
    throw new CconvError('E_USAGE', `invalid SIGSTRUCT date ${formatSigstructDate(d)}`, {
      hint: 'use a real date in the form YYYY-MM-DD',
    });
  }
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/** Parses `YYYY-MM-DD` (exactly that form) into a checked date; E_USAGE otherwise. */
export function parseSigstructDate(text: string): SigstructDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) {
    throw new CconvError('E_USAGE', `invalid SIGSTRUCT date '${text}'`, {
      hint: 'use the form YYYY-MM-DD',
    });
  }
  const d = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  checkSigstructDate(d);
  return d;
}

/** Formats a date as `YYYY-MM-DD` (zero-padded, as gramine-sgx-sigstruct-view prints it). */
export function formatSigstructDate(d: SigstructDate): string {
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}`;
}

/** Options of defaultSigstructDate. */
export interface DefaultDateOptions {
  /** The SOURCE_DATE_EPOCH value as found in the environment (seconds since 1970, UTC). */
  sourceDateEpoch?: string | undefined;
  /** The clock used when sourceDateEpoch is unset or empty; defaults to the system clock. */
  now?: () => Date;
}

/**
 * The date to sign with when the user gives none: the UTC day of SOURCE_DATE_EPOCH when set
 * (reproducible builds), else today's UTC day from `now()`. A malformed epoch is E_USAGE.
 */
export function defaultSigstructDate(options: DefaultDateOptions = {}): SigstructDate {
  const epoch = options.sourceDateEpoch;
  let when: Date;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d{1,15}$/.test(epoch)) {
      throw new CconvError('E_USAGE', `invalid SOURCE_DATE_EPOCH '${epoch}'`, {
        hint: 'SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC',
      });
    }
    when = new Date(Number(epoch) * 1000);
  } else {
    when = (options.now ?? (() => new Date()))();
  }
  const d = { year: when.getUTCFullYear(), month: when.getUTCMonth() + 1, day: when.getUTCDate() };
  checkSigstructDate(d);
  return d;
}

/** Encodes a decimal value as hex digits that read the same (2026 -> 0x2026). */
export function toBcd(value: number): number {
  return Number.parseInt(String(value), 16);
}

/**
 * Decodes a BCD field back to its decimal value (0x2026 -> 2026); null when a nibble is above 9,
 * i.e. the field was written as plain binary by a non-conforming signer.
 */
export function fromBcd(raw: number): number | null {
  const hex = raw.toString(16);
  return /^[0-9]+$/.test(hex) ? Number(hex) : null;
}
