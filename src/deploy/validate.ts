/**
 * Checks of caller-supplied Kubernetes values, so a bad option fails here with E_USAGE instead
 * of at `kubectl apply`. Messages name the option, never an env value (it may be a secret).
 */
import { CconvError } from '../errors.ts';
import type { K8sToleration } from './types.ts';

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUANTITY = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function usage(message: string, hint?: string): CconvError {
  return new CconvError('E_USAGE', message, hint === undefined ? {} : { hint });
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_', '.' starting and ending alphanumeric. */
export function checkLabelValue(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) {
    throw usage(`${what} is not a valid Kubernetes label value`, 'at most 63 characters: letters, digits, "-", "_", "."');
  }
  return value;
}

/** A label key: `[DNS-SUBDOMAIN/]NAME`, NAME as a non-empty label value. */
export function checkLabelKey(key: unknown, what: string): string {
  if (typeof key !== 'string') throw usage(`${what} must be a string`);
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix));
  if (!prefixOk || name === '' || name.length > 63 || !LABEL_NAME.test(name)) {
    throw usage(`${what} ${JSON.stringify(key)} is not a valid Kubernetes label key`);
  }
  return key;
}

/** An object name that must be a DNS-1123 subdomain (service accounts, secrets). */
export function checkSubdomain(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    throw usage(`${what} ${JSON.stringify(name)} is not a valid Kubernetes object name`, 'lowercase letters, digits, "-" and "."');
  }
  return name;
}

/** A CPU or memory quantity ("500m", "1.5", "512Mi", "2G"). */
export function checkQuantity(value: unknown, what: string): string {
  if (typeof value !== 'string' || !QUANTITY.test(value)) {
    throw usage(`${what} ${JSON.stringify(value)} is not a Kubernetes quantity`, 'e.g. "500m" or "2" for CPU, "512Mi" or "2Gi" for memory');
  }
  return value;
}

/** A whole number in [min, max]. */
export function checkInt(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw usage(`${what} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Env vars as sorted `{name, value}` pairs; E_USAGE for a bad name, a non-string value, or a reserved name. */
export function checkEnv(env: Record<string, string> | undefined, reserved: readonly string[]): Array<{ name: string; value: string }> {
  if (env === undefined) return [];
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw usage('env must be an object of NAME: value');
  const out: Array<{ name: string; value: string }> = [];
  for (const name of Object.keys(env).sort()) {
    if (!ENV_NAME.test(name)) throw usage(`env name ${JSON.stringify(name)} is not valid`, 'letters, digits, "_", "-", "."; not starting with a digit');
    if (reserved.includes(name)) throw usage(`env ${name} is set by cconv for the chosen attestation/key-release settings`);
    const value = env[name];
    if (typeof value !== 'string') throw usage(`env ${name} must have a string value`);
    out.push({ name, value });
  }
  return out;
}

/** Tolerations checked and written with a fixed key order. */
export function checkTolerations(list: readonly K8sToleration[] | undefined): Record<string, string>[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw usage('tolerations must be a list');
  return list.map((t, i) => {
    const what = `toleration ${i + 1}`;
    if (t.operator !== 'Exists' && t.operator !== 'Equal') throw usage(`${what}: operator must be Exists or Equal`);
    if (t.effect !== undefined && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      throw usage(`${what}: effect must be NoSchedule, PreferNoSchedule or NoExecute`);
    }
    if (t.operator === 'Exists' && t.value !== undefined) throw usage(`${what}: operator Exists takes no value`);
    if (t.key === undefined && t.operator !== 'Exists') throw usage(`${what}: a toleration without key must use operator Exists`);
    const out: Record<string, string> = {};
    if (t.key !== undefined) out.key = checkLabelKey(t.key, `${what}: key`);
    out.operator = t.operator;
    if (t.value !== undefined) out.value = checkLabelValue(t.value, `${what}: value`);
    if (t.effect !== undefined) out.effect = t.effect;
    return out;
  });
}
