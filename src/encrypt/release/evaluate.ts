/**
 * Evaluates an Azure Key Vault Secure Key Release policy against the claims of an attestation
 * token (the JSON payload of an MAA token), as Azure documents it (key-vault/keys/policy-grammar):
 *
 * - policy = { version: "1.0.0", anyOf: [authority, ...] }: released when ANY authority matches.
 * - authority = { authority: ISSUER, allOf | anyOf: [condition, ...] } (not both): it matches when
 *   ISSUER equals the token's `iss` and its conditions hold. Issuers are compared after adding
 *   "https://" to a bare host, dropping trailing "/" and lowercasing (URL scheme and host are
 *   case-insensitive).
 * - condition = { claim: NAME, OPERATOR: VALUE } | { anyOf: [...] } | { allOf: [...] }, nestable.
 *   NAME is looked up as a top-level key first, then with "dot notation" through nested objects.
 *   A missing claim fails every operator except `exists: false`.
 * - operators: equals / notEquals (same JSON type and value; strings compare exactly, case
 *   included: stricter than Azure Policy's case-insensitive compare, so a policy this accepts is
 *   not refused for case), less / lessOrEquals / greater / greaterOrEquals (number with number,
 *   or string with string in code-point order; other pairs fail), exists (true: present, false:
 *   absent). VALUE must be a JSON scalar (objects and arrays are not allowed).
 * Property names are matched case-insensitively ("anyof" = "anyOf"), as in the grammar's text.
 * A malformed policy is E_CONFIG naming the place (e.g. `anyOf[0].allOf[2]`).
 */
import { CconvError } from '../../errors.ts';
import type { SkrOperator, SkrValue } from './types.ts';

/** The decision and why. */
export interface SkrEvaluation {
  allowed: boolean;
  /** The authority that released the key (as written in the policy), or null. */
  authority: string | null;
  /**
   * Allowed: one line naming the matching authority. Denied: one line per authority with its
   * first failing condition, in policy order (reasons[0] is the first failure).
   */
  reasons: string[];
}

const OPERATORS: readonly SkrOperator[] = ['equals', 'notEquals', 'less', 'lessOrEquals', 'greater', 'greaterOrEquals', 'exists'];
const CANONICAL = new Map<string, string>(['version', 'anyOf', 'allOf', 'authority', 'claim', ...OPERATORS].map((k) => [k.toLowerCase(), k]));

type Node =
  | { kind: 'claim'; claim: string; op: SkrOperator; value: SkrValue; at: string }
  | { kind: 'anyOf' | 'allOf'; items: Node[]; at: string };

function bad(at: string, why: string): CconvError {
  return new CconvError('E_CONFIG', `release policy ${at}: ${why}`, { hint: 'see the Azure Key Vault secure key release policy grammar' });
}

/** The object's properties under canonical names; unknown or duplicate names are E_CONFIG. */
function props(v: unknown, at: string): Map<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(at, 'must be a JSON object');
  const out = new Map<string, unknown>();
  for (const [k, val] of Object.entries(v)) {
    const name = CANONICAL.get(k.toLowerCase());
    if (name === undefined) throw bad(at, `unknown property "${k}"`);
    if (out.has(name)) throw bad(at, `property "${name}" given twice`);
    out.set(name, val);
  }
  return out;
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0) throw bad(at, 'must be a non-empty array');
  return v;
}

function parseCondition(v: unknown, at: string): Node {
  const p = props(v, at);
  for (const group of ['anyOf', 'allOf'] as const) {
    if (p.has(group)) {
      if (p.size !== 1) throw bad(at, `${group} cannot be combined with other properties`);
      return { kind: group, items: list(p.get(group), `${at}.${group}`).map((c, i) => parseCondition(c, `${at}.${group}[${i}]`)), at };
    }
  }
  const claim = p.get('claim');
  if (typeof claim !== 'string' || claim === '') throw bad(at, 'a condition needs "claim" (a non-empty string), "anyOf" or "allOf"');
  const ops = OPERATORS.filter((o) => p.has(o));
  if (ops.length !== 1 || p.size !== 2) throw bad(at, `a claim condition needs exactly one operator (${OPERATORS.join(', ')})`);
  const op = ops[0]!;
  const value = p.get(op);
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw bad(at, `${op} needs a string, number or boolean`);
  if (op === 'exists' && typeof value !== 'boolean') throw bad(at, 'exists needs true or false');
  return { kind: 'claim', claim, op, value, at };
}

/** Validates a policy; returns its authorities with their parsed condition trees. */
function parsePolicy(policy: unknown): Array<{ authority: string; root: Node }> {
  const p = props(policy, '(top level)');
  if (p.get('version') !== '1.0.0') throw bad('version', 'must be "1.0.0"');
  for (const k of p.keys()) if (k !== 'version' && k !== 'anyOf') throw bad('(top level)', `unexpected property "${k}"`);
  return list(p.get('anyOf'), 'anyOf').map((a, i) => {
    const at = `anyOf[${i}]`;
    const q = props(a, at);
    const authority = q.get('authority');
    if (typeof authority !== 'string' || authority === '') throw bad(at, '"authority" must be a non-empty string');
    const groups = (['allOf', 'anyOf'] as const).filter((g) => q.has(g));
    if (groups.length !== 1 || q.size !== 2) throw bad(at, 'an authority needs exactly one of allOf or anyOf, and nothing else');
    const g = groups[0]!;
    const items = list(q.get(g), `${at}.${g}`).map((c, j) => parseCondition(c, `${at}.${g}[${j}]`));
    return { authority, root: { kind: g, items, at } };
  });
}

/** Normalised issuer for comparison (see module comment). */
export function normalizeIssuer(iss: string): string {
  const s = /^[a-z][a-z0-9+.-]*:\/\//i.test(iss) ? iss : `https://${iss}`;
  return s.replace(/\/+$/, '').toLowerCase();
}

/** Looks a claim up: exact top-level name first, then dot notation. `undefined` when missing. */
export function lookupClaim(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function compare(op: SkrOperator, actual: unknown, want: SkrValue): boolean {
  const sameType = typeof actual === typeof want;
  switch (op) {
    case 'exists':
      return (actual !== undefined) === want;
    case 'equals':
      return sameType && actual === want;
    case 'notEquals':
      return !(sameType && actual === want);
    default: {
      if (!sameType || (typeof want !== 'number' && typeof want !== 'string')) return false;
      const a = actual as number | string;
      if (op === 'less') return a < want;
      if (op === 'lessOrEquals') return a <= want;
      if (op === 'greater') return a > want;
      return a >= want;
    }
  }
}

/** Evaluates a node; returns null when it holds, else the reason it fails. */
function evaluate(node: Node, claims: Record<string, unknown>): string | null {
  if (node.kind === 'claim') {
    const actual = lookupClaim(claims, node.claim);
    const what = `${node.at}: claim "${node.claim}" ${node.op} ${JSON.stringify(node.value)}`;
    if (actual === undefined && node.op !== 'exists') return `${what}: the claim is missing`;
    if (compare(node.op, actual, node.value)) return null;
    return `${what}: the token has ${actual === undefined ? 'no such claim' : JSON.stringify(actual)}`;
  }
  if (node.kind === 'allOf') {
    for (const item of node.items) {
      const why = evaluate(item, claims);
      if (why !== null) return why;
    }
    return null;
  }
  let first: string | null = null;
  for (const item of node.items) {
    const why = evaluate(item, claims);
    if (why === null) return null;
    first ??= why;
  }
  return `${node.at}: none of its ${node.items.length} conditions holds; first: ${first}`;
}

/**
 * Evaluates `policy` (parsed JSON) against `claims` (a token payload). E_CONFIG for a malformed
 * policy or a claims value that is not a JSON object.
 */
export function evaluateSkrPolicy(policy: unknown, claims: unknown): SkrEvaluation {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new CconvError('E_CONFIG', 'attestation claims must be a JSON object (an attestation token payload)');
  }
  const c = claims as Record<string, unknown>;
  const authorities = parsePolicy(policy);
  const iss = c.iss;
  const reasons: string[] = [];
  for (const { authority, root } of authorities) {
    if (typeof iss !== 'string') {
      reasons.push(`${root.at}: authority ${authority}: the token has no "iss" claim`);
      continue;
    }
    if (normalizeIssuer(iss) !== normalizeIssuer(authority)) {
      reasons.push(`${root.at}: authority ${authority} is not the token issuer ${iss}`);
      continue;
    }
    const why = evaluate(root, c);
    if (why === null) return { allowed: true, authority, reasons: [`${root.at}: authority ${authority}: all conditions hold`] };
    reasons.push(why);
  }
  return { allowed: false, authority: null, reasons };
}
