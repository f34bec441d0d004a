/**
 * `cconv policy check`: evaluates an Azure Key Vault Secure Key Release policy against attestation
 * claims, so a policy can be tested before it is attached to a key. Exit status 0 when the policy
 * releases the key, 8 (E_POLICY_DENIED) with the first failing condition when it does not, 2
 * (E_CONFIG) for a malformed policy or claims file.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, evaluateSkrPolicy, parseAttestationClaims, type SkrEvaluation } from '../../index.ts';
import { wrapIoError } from '../../errors.ts';
import type { CommandSpec } from '../command.ts';
import type { CommandGroup } from '../main.ts';

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

const checkCommand: CommandSpec<CheckArgs, SkrEvaluation> = {
  command: 'check',
  describe: 'Check whether an Azure SKR release policy releases the key for the given attestation claims',
  builder: (y) =>
    y
      .option('policy', { type: 'string', demandOption: true, describe: 'release policy (JSON, e.g. azure-skr-policy.json)' })
      .option('claims', { type: 'string', demandOption: true, describe: 'attestation claims: the JSON payload of an MAA token, or the token itself (its signature is NOT checked)' }),
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

/** The `policy` command group. */
export const policyCommand: CommandGroup = {
  command: 'policy',
  describe: 'Release policies: check an Azure SKR policy against attestation claims',
  subcommands: [checkCommand],
};
