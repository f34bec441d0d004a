/**
 * A small, strict path glob for policy rules. Patterns are absolute ('/'-rooted) and are matched
 * against normalised absolute paths inside the image root.
 *
 * Syntax:
 * - `*` any run of characters except '/' (dotfiles included: a leading '.' is not special);
 *   several '*' that are not a whole segment count as one.
 * - `?` one character except '/'.
 * - `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` a character class (never matches '/'; ']' first in the
 *   class is literal; a class may not contain '/').
 * - `**` as a whole segment (`/**` at the end, `/**` + '/' in the middle) matches zero or more
 *   whole segments.
 * - `\x` the character x literally.
 * - No braces: `{a,b}` is literal.
 *
 * A pattern matches a path when it matches the path itself or any of its ancestor directories,
 * as in .gitignore: `/var` and `/var/` both cover everything below /var, `/etc/rc?.d` covers
 * the files in /etc/rc0.d, ... A trailing '/' is ignored.
 */
import { CconvError } from '../errors.ts';

function invalid(pattern: string, why: string): CconvError {
  return new CconvError('E_CONFIG', `invalid path pattern ${JSON.stringify(pattern)}: ${why}`, {
    hint: 'patterns are absolute globs such as /usr/lib/** or /etc/ssl/*.pem',
  });
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/-]/;

function escapeChar(c: string): string {
  return REGEX_SPECIAL.test(c) ? `\\${c}` : c;
}

/** Parses a class starting at pattern[start] === '['; returns its regex and the index after ']'. */
function parseClass(pattern: string, start: number): { re: string; end: number } {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (;;) {
    const c = pattern[i];
    if (c === undefined) throw invalid(pattern, 'unclosed character class');
    if (c === ']' && !first) break;
    if (c === '/') throw invalid(pattern, "'/' inside a character class");
    first = false;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw invalid(pattern, 'trailing backslash');
      body += /[A-Za-z0-9]/.test(next) ? next : `\\${next}`;
      i += 2;
      continue;
    }
    if (c === '-' && body !== '' && pattern[i + 1] !== ']' && pattern[i + 1] !== undefined) {
      body += '-';
    } else {
      body += c === '^' || c === ']' || c === '[' || c === '-' ? `\\${c}` : c;
    }
    i++;
  }
  // '/' never matches: a negated class excludes it explicitly.
  return { re: negate ? `[^/${body}]` : `[${body}]`, end: i + 1 };
}

/**
 * Compiles a pattern into a RegExp that tests absolute paths (with the ancestor rule above).
 * Throws E_CONFIG for a relative pattern, '.'/'..' segments, a NUL, a bad class or escape.
 */
export function globToRegExp(pattern: string): RegExp {
  if (!pattern.startsWith('/')) throw invalid(pattern, "must start with '/'");
  if (pattern.includes('\0')) throw invalid(pattern, 'contains NUL');
  let p = pattern.length > 1 ? pattern.replace(/\/+$/, '') : pattern;
  if (p === '/') p = '';
  if (p.split('/').some((seg, idx) => idx > 0 && (seg === '.' || seg === '..' || seg === ''))) {
    throw invalid(pattern, "empty, '.' or '..' segment");
  }
  let re = '^';
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '/' && p.startsWith('**', i + 1) && (i + 3 === p.length || p[i + 3] === '/')) {
      re += '(?:/[^/]+)*';
      i += 3;
    } else if (c === '*') {
      while (p[i] === '*') i++;
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
      i++;
    } else if (c === '[') {
      const cls = parseClass(p, i);
      re += cls.re;
      i = cls.end;
    } else if (c === '\\') {
      const next = p[i + 1];
      if (next === undefined) throw invalid(pattern, 'trailing backslash');
      re += escapeChar(next);
      i += 2;
    } else {
      re += escapeChar(c);
      i++;
    }
  }
  re += '(?:/.*)?$';
  try {
    return new RegExp(re, 's');
  } catch (err) {
    throw new CconvError('E_CONFIG', `invalid path pattern ${JSON.stringify(pattern)}`, { cause: err });
  }
}

/** True when absolute `path` (or one of its ancestors) matches `pattern`. */
export function matchGlob(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(path);
}
