/**
 * Options of `cconv build` beyond the enclave, signer and registry groups: where the result goes,
 * the signing key default, encryption keys and key release, Kubernetes output, attestations.
 */
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { Argv } from 'yargs';
import { createSigningKeyFile, defaultSigningKeyPath } from '../../enclave/index.ts';
import { CconvError } from '../../errors.ts';
import type { Reporter } from '../../progress.ts';
import { formatReference, parseReference, type ImageReference } from '../../transports/index.ts';

/** Parsed build-specific options. */
export interface BuildArgs {
  output?: string;
  push?: string;
  tag?: string;
  dataKey?: string;
  brokerKey?: string;
  envelopeOut: string;
  policyOut?: string;
  maaEndpoint?: string;
  bind: 'mrenclave' | 'mrsigner';
  k8s?: string;
  k8sEpcResource: 'intel' | 'aks';
  k8sNamespace?: string;
  k8sNodePool?: string[];
  attestKey?: string;
}

const OUT = 'Output:';
const KEYS = 'Encryption and key release:';

/** Adds the build-specific options. */
export function buildOptions(y: Argv): Argv {
  return y
    .option('output', { type: 'string', group: OUT, describe: 'destination reference (oci:DIR:TAG, docker-archive:FILE:NAME:TAG, docker-daemon:NAME:TAG, docker://...)' })
    .option('push', { type: 'string', group: OUT, describe: 'push to this registry reference, e.g. myacr.azurecr.io/app:1 (same as --output docker://...)' })
    .conflicts('output', 'push')
    .option('tag', { type: 'string', group: OUT, describe: 'tag of the default destination (the local daemon, NAME:TAG)', defaultDescription: 'SOURCE_TAG-sgx' })
    .option('k8s', { type: 'string', group: OUT, describe: 'write a Kubernetes Deployment for AKS confidential nodes to FILE (needs a registry destination)' })
    .option('k8s-epc-resource', { choices: ['intel', 'aks'] as const, default: 'intel' as const, group: OUT, describe: 'EPC resource name: sgx.intel.com/epc or kubernetes.azure.com/sgx_epc_mem_in_MiB' })
    .option('k8s-namespace', { type: 'string', group: OUT, describe: 'metadata.namespace of the Deployment' })
    .option('k8s-node-pool', { type: 'string', array: true, group: OUT, describe: 'AKS node pool(s) to run on (repeatable)' })
    .option('attest-key', { type: 'string', group: OUT, describe: 'after a push, sign sigstore attestations (enclave identity, SLSA provenance) with this P-256 key (cconv attest keygen)' })
    .option('data-key', { type: 'string', group: KEYS, describe: '16-byte key file for encrypted files (default: a fresh key, sealed to --broker-key)' })
    .option('broker-key', { type: 'string', group: KEYS, describe: 'key broker public key (cconv keys gen-broker): seal the data key to it' })
    .option('envelope-out', { type: 'string', default: 'key-envelope.json', group: KEYS, describe: 'where to write the key envelope (with --broker-key)' })
    .option('policy-out', { type: 'string', group: KEYS, describe: 'write release policies for this build\'s identity into DIR' })
    .option('maa-endpoint', { type: 'string', group: KEYS, describe: 'Microsoft Azure Attestation endpoint: also write an Azure Key Vault SKR policy' })
    .option('bind', { choices: ['mrenclave', 'mrsigner'] as const, default: 'mrenclave' as const, group: KEYS, describe: 'release policies pin this exact build, or the signer + product + minimum SVN' });
}

/**
 * The destination: --output, --push, or by default the local daemon under NAME:TAG-sgx when the
 * source came from it. E_USAGE otherwise.
 */
export function destinationFrom(args: BuildArgs, source: ImageReference): ImageReference {
  if (args.output !== undefined) return parseReference(args.output);
  if (args.push !== undefined) return parseReference(args.push.startsWith('docker://') ? args.push : `docker://${args.push}`);
  if (source.transport === 'docker-daemon') {
    return { transport: 'docker-daemon', name: source.name, tag: args.tag ?? `${source.tag ?? 'latest'}-sgx` };
  }
  throw new CconvError('E_USAGE', `no destination for an image read from ${formatReference(source)}`, {
    hint: 'pass --output REF (e.g. oci:out:app) or --push REGISTRY/REPO:TAG',
  });
}

/**
 * The signing key path: --key, else $CCONV_SIGNING_KEY, else the default key, generated on first
 * use with a loud warning (it is a development key: its MRSIGNER is yours alone and unbacked).
 */
export async function signingKeyPath(key: string | undefined, env: NodeJS.ProcessEnv, report: Reporter): Promise<string> {
  if (key !== undefined) return key;
  if (env.CCONV_SIGNING_KEY !== undefined && env.CCONV_SIGNING_KEY !== '') return env.CCONV_SIGNING_KEY;
  const path = defaultSigningKeyPath(env, homedir());
  if (await access(path).then(() => true, () => false)) return path;
  const created = await createSigningKeyFile(path);
  report({
    type: 'log',
    level: 'warn',
    message: `no signing key given: generated a DEVELOPMENT key at ${path} (MRSIGNER ${created.mrsigner}). ` +
      'Enclaves signed with it are only as trustworthy as this machine; use --key or CCONV_SIGNING_KEY for releases.',
  });
  return path;
}

/** SOURCE_DATE_EPOCH as seconds (0 when unset); E_USAGE when malformed. */
export function epochFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+$/.test(raw)) throw new CconvError('E_USAGE', `SOURCE_DATE_EPOCH must be a whole number of seconds, not ${JSON.stringify(raw)}`);
  return Number(raw);
}
