/**
 * `cconv policy check`: evaluates an Azure Key Vault Secure Key Release policy against attestation
 * claims, so a policy can be tested before it is attached to a key. Exit status 0 when the policy
 * releases the key, 8 (E_POLICY_DENIED) with the first failing condition when it does not, 2
 * (E_CONFIG) for a malformed policy or claims file.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, evaluateSkrPolicy, parseAttestationClaims, type SkrEvaluation } from '../../index.ts';
import { wrapIoError } from '../../errors.ts';
import type { CommandHandler } from '../main.ts';

interface CheckArgs {
  policy: string;
  claims: string;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `cannot read ${file}`);
  }
}

/** `policy check`. */
export const policyCheckCommand: CommandHandler<CheckArgs, SkrEvaluation> = {
  run: async (args) => {
    let policy: unknown;
    try {
      policy = JSON.parse(await readText(args.policy)) as unknown;
    } catch (err) {
      if (err instanceof CconvError) throw err;
      throw new CconvError('E_CONFIG', `${args.policy}: not valid JSON: ${(err as Error).message}`);
    }
    const claims = parseAttestationClaims(await readText(args.claims));
    const result = evaluateSkrPolicy(policy, claims);
    if (!result.allowed) {
      const [first, ...others] = result.reasons;
      throw new CconvError('E_POLICY_DENIED', `the policy does not release the key: ${first}`, {
        hint: others.length > 0 ? `the other authorities failed too: ${others.join('; ')}` : 'compare the claims of the attestation token with the policy',
      });
    }
    return result;
  },
  human: (r) => `Allowed: ${r.reasons.join('; ')}`,
};
