/**
 * Gramine's size strings ("256M", "4G", "0x40000K", "65536"), parsed exactly as the signer's
 * `parse_size` does: an optional K/M/G suffix (upper case only), then Python's `int(text, 0)`
 * (decimal without leading zeros, or 0x/0o/0b prefixes, '_' between digits, surrounding
 * whitespace allowed).
 */
import { CconvError } from '../errors.ts';

const SCALE: Record<string, bigint> = { K: 1024n, M: 1024n ** 2n, G: 1024n ** 3n };

/** Python's `int(text, 0)`, or undefined when Python would raise ValueError. */
export function pythonIntBase0(text: string): bigint | undefined {
  const m = /^[ \t\n\r\f\v]*([+-]?)(.*?)[ \t\n\r\f\v]*$/s.exec(text);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  const body = m[2] as string;
  let digits: string;
  let prefix = '';
  const p = /^0([xXoObB])_?(.*)$/s.exec(body);
  if (p) {
    prefix = `0${(p[1] as string).toLowerCase()}`;
    digits = p[2] as string;
  } else {
    digits = body;
  }
  const alphabet = prefix === '0x' ? '[0-9a-fA-F]' : prefix === '0o' ? '[0-7]' : prefix === '0b' ? '[01]' : '[0-9]';
  if (!new RegExp(`^${alphabet}+(_${alphabet}+)*$`).test(digits)) return undefined;
  const clean = digits.replaceAll('_', '');
  // Base 0: a decimal literal may not have leading zeros, except a run of zeros ("000").
  if (prefix === '' && clean.length > 1 && clean.startsWith('0') && /[1-9]/.test(clean)) return undefined;
  return sign * BigInt(prefix === '' ? clean : `${prefix}${clean}`);
}

/**
 * Parses a Gramine size string to bytes. Throws `code` (E_ENCLAVE_LAYOUT by default) when the
 * reference would fail, or when the value is negative. `what` names the manifest key.
 */
export function parseSize(value: unknown, what = 'size', code: 'E_ENCLAVE_LAYOUT' | 'E_MANIFEST_TEMPLATE' = 'E_ENCLAVE_LAYOUT'): bigint {
  if (typeof value !== 'string') {
    throw new CconvError(code, `${what} must be a string such as "256M" (got ${typeof value})`);
  }
  const last = value.slice(-1);
  const scale = SCALE[last];
  const n = pythonIntBase0(scale === undefined ? value : value.slice(0, -1));
  if (n === undefined || n < 0n) {
    throw new CconvError(code, `${what} = ${JSON.stringify(value)} is not a valid size`, {
      hint: 'use a number with an optional K, M or G suffix, e.g. "256M", "4G", "0x40000K"',
    });
  }
  return n * (scale ?? 1n);
}
