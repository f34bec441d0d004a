/**
 * Loading, validating and evaluating policy files (JSON, format version 1):
 *
 *   { "version": 1, "description": "...",
 *     "rules": [ { "type": "trust", "paths": ["/**"], "comment": "..." }, ... ] }
 *
 * Rules are evaluated last-match-wins: the class of a path is the type of the LAST rule with a
 * matching pattern, so a later, narrower rule refines an earlier broad one, and CLI overrides
 * (appended at the end) beat the file. A path no rule matches is excluded.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../errors.ts';
import { globToRegExp } from './glob.ts';
import { RULE_TYPES, type Policy, type PolicyOverrides, type PolicyRule, type RuleType } from './types.ts';

/** The bundled default policy file (policies/default.json). */
export const DEFAULT_POLICY_URL = new URL('../../policies/default.json', import.meta.url);

function bad(source: string, what: string): CconvError {
  return new CconvError('E_CONFIG', `${source}: ${what}`, {
    hint: 'a policy is {"version": 1, "rules": [{"type": "trust|allow|exclude|encrypt", "paths": ["/glob"]}]}',
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], source: string, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw bad(source, `unknown key ${JSON.stringify(key)} in ${where}`);
  }
}

function parseRule(raw: unknown, index: number, source: string): PolicyRule {
  const where = `rules[${index}]`;
  if (!isObject(raw)) throw bad(source, `${where} is not an object`);
  checkKeys(raw, ['type', 'paths', 'comment'], source, where);
  const type = raw['type'];
  if (typeof type !== 'string' || !(RULE_TYPES as readonly string[]).includes(type)) {
    throw bad(source, `${where}.type must be one of ${RULE_TYPES.join(', ')}`);
  }
  const paths = raw['paths'];
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string')) {
    throw bad(source, `${where}.paths must be a non-empty array of strings`);
  }
  for (const p of paths as string[]) {
    try {
      globToRegExp(p);
    } catch (err) {
      throw new CconvError('E_CONFIG', `${source}: ${where}: ${(err as Error).message}`, { cause: err });
    }
  }
  const comment = raw['comment'];
  if (comment !== undefined && typeof comment !== 'string') throw bad(source, `${where}.comment must be a string`);
  return comment === undefined
    ? { type: type as RuleType, paths: [...(paths as string[])] }
    : { type: type as RuleType, paths: [...(paths as string[])], comment };
}

/** Validates parsed JSON as a policy; `source` names it in errors. Throws E_CONFIG. */
export function parsePolicy(json: unknown, source = 'policy'): Policy {
  if (!isObject(json)) throw bad(source, 'not a JSON object');
  checkKeys(json, ['version', 'description', 'rules', '$schema'], source, 'the policy');
  if (json['version'] !== 1) throw bad(source, `unsupported version ${JSON.stringify(json['version'])} (expected 1)`);
  const rules = json['rules'];
  if (!Array.isArray(rules)) throw bad(source, 'rules must be an array');
  const description = json['description'];
  if (description !== undefined && typeof description !== 'string') throw bad(source, 'description must be a string');
  const parsed = rules.map((r, i) => parseRule(r, i, source));
  return description === undefined ? { version: 1, rules: parsed } : { version: 1, description, rules: parsed };
}

/** Reads and validates a policy file. Throws E_IO (unreadable) or E_CONFIG (bad JSON or content). */
export async function loadPolicy(file: string | URL): Promise<Policy> {
  const source = typeof file === 'string' ? file : file.pathname;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading policy ${source}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CconvError('E_CONFIG', `${source}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicy(json, source);
}

/** The bundled default policy (policies/default.json). */
export function defaultPolicy(): Promise<Policy> {
  return loadPolicy(DEFAULT_POLICY_URL);
}

/**
 * Appends CLI overrides as rules, one rule per flag kind, in the order trust, allow, encrypt,
 * exclude (so with last-match-wins, on a path two flags both match, exclude beats encrypt beats
 * allow beats trust). Patterns are validated (E_CONFIG). The input policy is not modified.
 */
export function policyWithOverrides(policy: Policy, overrides: PolicyOverrides): Policy {
  const extra: PolicyRule[] = [];
  for (const type of RULE_TYPES) {
    const paths = overrides[type] ?? [];
    if (paths.length === 0) continue;
    for (const p of paths) globToRegExp(p);
    extra.push({ type, paths: [...paths], comment: `--${type} override` });
  }
  return { ...policy, rules: [...policy.rules, ...extra] };
}

/** A policy compiled for repeated evaluation. */
export interface CompiledPolicy {
  /** The class of absolute `path`, or undefined when no rule matches (treated as excluded). */
  classify(path: string): RuleType | undefined;
}

/** Compiles every pattern once; `classify` scans rules from the last one (last-match-wins). */
export function compilePolicy(policy: Policy): CompiledPolicy {
  const compiled = policy.rules.map((rule) => ({ type: rule.type, res: rule.paths.map(globToRegExp) }));
  return {
    classify(path: string): RuleType | undefined {
      for (let i = compiled.length - 1; i >= 0; i--) {
        const rule = compiled[i]!;
        if (rule.res.some((re) => re.test(path))) return rule.type;
      }
      return undefined;
    },
  };
}

/**
 * True for an absolute path the policy classifies `encrypt` (last-match-wins, so a later trust or
 * exclude rule takes a path back), whether or not the path exists: what a build must keep out of
 * every layer in plaintext. Undefined when no rule encrypts anything.
 */
export function encryptedPathTest(policy: Policy): ((path: string) => boolean) | undefined {
  if (!policy.rules.some((r) => r.type === 'encrypt')) return undefined;
  const compiled = compilePolicy(policy);
  return (path) => compiled.classify(path) === 'encrypt';
}
