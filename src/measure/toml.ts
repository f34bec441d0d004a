/**
 * TOML for Gramine manifests: parsing with smol-toml, and a writer that produces byte for byte what
 * Gramine's signer writes (`tomli_w.dumps(manifest)` with its defaults: no multi-line strings,
 * 4-space array indent, arrays of tables written inline unless one would be over 100 characters
 * or span lines). Key order is the insertion order of the document.
 *
 * Value model: integers are `bigint` (TOML has 64-bit integers), floats are `number`, strings,
 * booleans, arrays and tables (plain objects, keys in insertion order). Dates are not supported.
 */
import { parse, TomlError } from 'smol-toml';
import { CconvError } from '../errors.ts';

/** A TOML value as cconv holds it. Integers are bigint, floats are number. */
export type TomlValue = string | bigint | number | boolean | TomlValue[] | TomlTable;
/** A TOML table; iteration order of its keys is the document order. */
export interface TomlTable {
  [key: string]: TomlValue;
}

const MAX_LINE_LENGTH = 100;
const INDENT = '    ';
const BARE_KEY = /^[A-Za-z0-9_-]+$/;
/** Keys JS objects would reorder (array-index-like); their document order cannot be kept. */
const INDEX_LIKE_KEY = /^(0|[1-9][0-9]{0,9})$/;

/** True for a TOML table (not an array, not a date). */
export function isTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function checkValue(v: unknown, path: string): void {
  if (v instanceof Date) {
    throw new CconvError('E_UNSUPPORTED', `manifest key ${path}: TOML dates/times are not supported in manifests`);
  }
  if (Array.isArray(v)) {
    v.forEach((item, i) => checkValue(item, `${path}[${i}]`));
  } else if (isTable(v)) {
    for (const k of Object.keys(v)) {
      if (INDEX_LIKE_KEY.test(k) && Number(k) < 2 ** 32 - 1) {
        throw new CconvError('E_UNSUPPORTED', `manifest key ${path}.${k}: numeric keys are not supported (their order would change)`);
      }
      checkValue(v[k], path === '' ? k : `${path}.${k}`);
    }
  }
}

/**
 * Parses manifest TOML. Throws E_MANIFEST_TEMPLATE on a syntax error, E_UNSUPPORTED on TOML
 * features whose output cconv cannot reproduce exactly (dates, numeric keys).
 */
export function parseManifestToml(text: string): TomlTable {
  let doc: unknown;
  try {
    doc = parse(text, { integersAsBigInt: true });
  } catch (err) {
    const msg = err instanceof TomlError ? err.message.split('\n')[0] : String(err);
    throw new CconvError('E_MANIFEST_TEMPLATE', `manifest is not valid TOML: ${msg}`, { cause: err });
  }
  checkValue(doc, '');
  return doc as TomlTable;
}

/** Python's repr() of a float (shortest round-trip digits, exponent outside 1e-4 <= |x| < 1e16). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expStr] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mant.replace('.', '');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  const point = exp + 1;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const COMPACT: Record<string, string> = {
  '\b': '\\b', '\n': '\\n', '\f': '\\f', '\r': '\\r', '"': '\\"', '\\': '\\\\',
};

/** Characters tomli_w escapes in a basic string (tab is kept as is). */
const NEEDS_ESCAPE = /["\\\x00-\x08\x0a-\x1f\x7f]/;

/** A basic (double-quoted) TOML string, escaped as tomli_w does. */
export function formatString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`; // the common case: nothing to escape
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\' || (c < 32 && ch !== '\t') || c === 127) {
      out += COMPACT[ch] ?? `\\u${c.toString(16).padStart(4, '0')}`;
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}

function formatKey(k: string): string {
  return BARE_KEY.test(k) ? k : formatString(k);
}

const SURROGATE = /[\ud800-\udfff]/;

function codePointLength(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Inline renderings of the tables of the document being dumped: an array of tables is rendered
 * once to decide whether it fits inline (tomli_w's rule) and again when written; a manifest with
 * 20,000 trusted files would otherwise format each of them twice.
 */
let inlineCache: WeakMap<TomlTable, string> | undefined;

function formatInlineTable(t: TomlTable): string {
  const cached = inlineCache?.get(t);
  if (cached !== undefined) return cached;
  const out = renderInlineTable(t);
  inlineCache?.set(t, out);
  return out;
}

function renderInlineTable(t: TomlTable): string {
  const keys = Object.keys(t);
  if (keys.length === 0) return '{}';
  return `{ ${keys.map((k) => `${formatKey(k)} = ${formatLiteral(t[k] as TomlValue, 0)}`).join(', ')} }`;
}

function formatArray(a: TomlValue[], nest: number): string {
  if (a.length === 0) return '[]';
  const itemIndent = INDENT.repeat(nest + 1);
  const items = a.map((v) => itemIndent + formatLiteral(v, nest + 1));
  return `[\n${items.join(',\n')},\n${INDENT.repeat(nest)}]`;
}

function formatLiteral(v: TomlValue, nest: number): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return pyFloatRepr(v);
  if (typeof v === 'string') return formatString(v);
  if (Array.isArray(v)) return formatArray(v, nest);
  if (isTable(v)) return formatInlineTable(v);
  throw new CconvError('E_INTERNAL', `value of type ${typeof v} is not TOML serialisable`);
}

function isSuitableInline(t: TomlTable): boolean {
  const rendered = `${INDENT}${formatInlineTable(t)},`;
  return codePointLength(rendered) <= MAX_LINE_LENGTH && !rendered.includes('\n');
}

function* tableChunks(table: TomlTable, name: string, insideAot: boolean): Generator<string> {
  let yielded = false;
  const literals: Array<[string, TomlValue]> = [];
  const tables: Array<[string, TomlTable, boolean]> = [];
  for (const k of Object.keys(table)) {
    const v = table[k] as TomlValue;
    if (isTable(v)) {
      tables.push([k, v, false]);
    } else if (Array.isArray(v) && v.length > 0 && v.every(isTable) && !v.every((t) => isSuitableInline(t as TomlTable))) {
      for (const t of v) tables.push([k, t as TomlTable, true]);
    } else {
      literals.push([k, v]);
    }
  }
  if (insideAot || (name !== '' && (literals.length > 0 || tables.length === 0))) {
    yielded = true;
    yield insideAot ? `[[${name}]]\n` : `[${name}]\n`;
  }
  if (literals.length > 0) {
    yielded = true;
    for (const [k, v] of literals) yield `${formatKey(k)} = ${formatLiteral(v, 0)}\n`;
  }
  for (const [k, v, aot] of tables) {
    if (yielded) yield '\n';
    else yielded = true;
    const key = formatKey(k);
    yield* tableChunks(v, name === '' ? key : `${name}.${key}`, aot);
  }
}

/** Serialises a document exactly as Gramine's signer does (`tomli_w.dumps`). */
export function dumpManifestToml(doc: TomlTable): string {
  inlineCache = new WeakMap();
  try {
    return [...tableChunks(doc, '', false)].join(''); // one flat string, not a rope of 20,000 pieces
  } finally {
    inlineCache = undefined;
  }
}
