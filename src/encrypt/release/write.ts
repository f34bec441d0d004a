/**
 * Writes the release policies of one build into a directory (`--policy-out DIR`), one file each,
 * atomically, deterministic (same identity and options give the same bytes):
 *
 *   azure-skr-policy.json        Azure Key Vault Secure Key Release policy (only with maaEndpoint)
 *   marblerun-package.json       { "Packages": { NAME: ... } } for a Marblerun manifest
 *   gramine-ra-tls-verifier.env  RA_TLS_* settings for a Gramine secret-provisioning server
 *
 * JSON is 2-space indented with a trailing newline; keys come in the order the generators build.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wrapIoError } from '../../errors.ts';
import type { Reporter } from '../../progress.ts';
import { atomicWriteFile } from '../../files.ts';
import { azureSkrPolicy, marblerunPackages, raTlsVerifierEnvFile } from './generate.ts';
import { DEBUG_WARNING, checkReleaseIdentity } from './identity.ts';
import type { ReleaseIdentity, ReleaseOptions, ReleasePoliciesResult } from './types.ts';

/** File names written by writeReleasePolicies. */
export const RELEASE_FILES = {
  skr: 'azure-skr-policy.json',
  marblerun: 'marblerun-package.json',
  raTlsEnv: 'gramine-ra-tls-verifier.env',
} as const;

/** Deterministic JSON text: 2-space indent, trailing newline. */
export function policyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Generates and writes the policies (see module comment) into `dir`, created if missing; existing
 * files of these names are replaced. Warnings (debug enclave, no MAA endpoint) are returned and
 * also reported as 'warn' log events. Errors: E_USAGE (bad identity/options), E_IO.
 */
export async function writeReleasePolicies(
  dir: string,
  identity: ReleaseIdentity,
  options: ReleaseOptions & { report?: Reporter } = {},
): Promise<ReleasePoliciesResult> {
  const id = checkReleaseIdentity(identity);
  const bind = options.bind ?? 'mrenclave';
  const contents: Array<[string, string]> = [];
  const warnings: string[] = [];
  if (options.maaEndpoint !== undefined) {
    contents.push([RELEASE_FILES.skr, policyJson(azureSkrPolicy(id, { maaEndpoint: options.maaEndpoint, bind }))]);
  } else {
    warnings.push('no MAA endpoint given (--maa-endpoint): the Azure Key Vault release policy was not written');
  }
  const mr = options.packageName === undefined ? { bind } : { bind, packageName: options.packageName };
  contents.push([RELEASE_FILES.marblerun, policyJson(marblerunPackages(id, mr))]);
  contents.push([RELEASE_FILES.raTlsEnv, raTlsVerifierEnvFile(id, { bind })]);
  if (id.debug) warnings.unshift(DEBUG_WARNING);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw wrapIoError(err, `cannot create ${dir}`);
  }
  const files: string[] = [];
  for (const [name, text] of contents) {
    const path = join(dir, name);
    await atomicWriteFile(path, text, { mode: 0o644, overwrite: true });
    files.push(path);
  }
  for (const message of warnings) options.report?.({ type: 'log', level: 'warn', message });
  return { files, warnings };
}
