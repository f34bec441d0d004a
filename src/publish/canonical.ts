/**
 * Canonical JSON for signed documents: object keys sorted by UTF-16 code units at every level, no
 * whitespace, arrays in their given order (RFC 8785 for the values cconv writes: strings, safe
 * integers, booleans, null). The same value always gives the same bytes.
 */
import { CconvError } from '../errors.ts';

/** Serialises `value` canonically; undefined object members are dropped. Non-finite numbers are E_INTERNAL. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CconvError('E_INTERNAL', 'canonical JSON cannot hold a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new CconvError('E_INTERNAL', `canonical JSON cannot hold a ${typeof value}`);
}
