/**
 * `cconv build SOURCE`: the whole pipeline (read, flatten, policy, manifest, measure, sign, encrypt,
 * assemble, write or push), then the optional outputs that need the final digest: key envelope,
 * release policies, Kubernetes Deployment, sigstore attestations.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deploymentYaml, enclaveMemoryFromManifest, planDeployment } from '../../deploy/index.ts';
import { resolveSigningDate, type EnclaveIdentity } from '../../enclave/index.ts';
import { loadBrokerPublicKey, loadDataKey } from '../../encrypt/index.ts';
import { atomicWriteFile } from '../../files.ts';
import { CconvError } from '../../errors.ts';
import { buildImage, type BuildOutput } from '../../pipeline/index.ts';
import { attestImage, enclavePredicate, loadSigstorePrivateKey, type AttestResult } from '../../publish/index.ts';
import type { Reporter } from '../../progress.ts';
import { formatReference, openDestination, parseReference, type ImageReference } from '../../transports/index.ts';
import type { CliIo } from '../command.ts';
import type { CommandHandler } from '../main.ts';
import { destinationFrom, epochFrom, signingKeyPath, type BuildArgs } from '../options/build.ts';
import { daemonFrom, fragmentFrom, keyProvisioningFrom, openImage, policyFrom, runtimeFrom, settingsFrom, type EnclaveArgs } from '../options/enclave.ts';
import { limitsFrom, type LimitsArgs } from '../options/limits.ts';
import { registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';
import { signerFrom, type SignerArgs } from '../options/signer.ts';
import { formatBytes } from '../render.ts';

interface Args extends EnclaveArgs, SignerArgs, RegistryArgs, BuildArgs, LimitsArgs {
  source: string;
}

/** Result of `cconv build --json` (README.md, "cconv build"). */
export interface BuildResult {
  source: { reference: string; digest: string };
  destination: { reference: string; digest: string };
  identity: EnclaveIdentity;
  files: BuildOutput['files'];
  encryptedBytes: number;
  layers: BuildOutput['layers'];
  envelope?: string;
  releasePolicies?: string[];
  k8s?: string;
  attestations?: AttestResult['attestations'];
  timings: Record<string, number>;
}

async function fileSha256(path: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`;
}

/** Writes the Deployment for a pushed image; warnings go to the reporter. */
async function writeK8s(args: Args, dest: ImageReference & { transport: 'docker' }, out: BuildOutput, config: Parameters<typeof planDeployment>[0]['config'], report: Reporter): Promise<void> {
  const plan = planDeployment({
    image: `${dest.registry}/${dest.repository}`,
    digest: out.digest,
    identity: out.identity,
    enclave: enclaveMemoryFromManifest(out.manifestSgx),
    ...(config ? { config } : {}),
    options: {
      epcResource: args.k8sEpcResource,
      ...(args.k8sNamespace !== undefined ? { namespace: args.k8sNamespace } : {}),
      ...(args.k8sNodePool !== undefined ? { nodePools: args.k8sNodePool } : {}),
      ...(args.keyProvisioning === 'gramine-secret-prov' ? { keyRelease: { kind: 'gramine-secret-prov' as const, ...(args.secretProvServer ? { servers: args.secretProvServer } : {}) } } : {}),
    },
  });
  for (const message of plan.warnings) report({ type: 'log', level: 'warn', message });
  await atomicWriteFile(args.k8s!, deploymentYaml(plan), { mode: 0o644, overwrite: true });
}

async function run(args: Args, report: Reporter, io: CliIo): Promise<BuildResult> {
  const sourceRef = parseReference(args.source);
  const destRef = destinationFrom(args, sourceRef);
  if ((args.k8s !== undefined || args.attestKey !== undefined) && destRef.transport !== 'docker') {
    throw new CconvError('E_USAGE', '--k8s and --attest-key need a registry destination', { hint: 'use --push REGISTRY/REPO:TAG' });
  }
  const [settings, policy, fragment] = await Promise.all([settingsFrom(args), policyFrom(args), fragmentFrom(args)]);
  const keyProvisioning = keyProvisioningFrom(args);
  const date = resolveSigningDate(args.date, io.env.SOURCE_DATE_EPOCH);
  const epoch = epochFrom(io.env);
  const keyPath = args.signerCmd === undefined ? await signingKeyPath(args.key, io.env, report) : undefined;
  const signer = await signerFrom(args, io, keyPath);
  const registry = await registryOptionsFrom(args, io);
  const dataKey = args.dataKey !== undefined ? await loadDataKey(args.dataKey) : undefined;
  const broker = args.brokerKey !== undefined ? { publicKey: await loadBrokerPublicKey(args.brokerKey), envelopePath: args.envelopeOut } : undefined;
  const daemon = daemonFrom(io.env, [sourceRef, destRef, ...(args.runtimeImage !== undefined ? [parseReference(args.runtimeImage)] : [])]);
  const { runtime, close } = await runtimeFrom(args, report, { registry, daemon });
  try {
    const source = await openImage(args.source, args, report, { registry, daemon });
    try {
      const destination = openDestination(destRef, { registry, daemon: { ...daemon, ...(args.tmpDir !== undefined ? { tmpDir: args.tmpDir } : {}) } });
      const out = await buildImage({
        source,
        sourceRef: formatReference(sourceRef),
        runtime,
        destination,
        policy,
        settings,
        limits: limitsFrom(args),
        ...(fragment ? { fragment } : {}),
        signer,
        date,
        epoch,
        ...(dataKey ? { dataKey } : {}),
        ...(broker ? { broker } : {}),
        ...(keyProvisioning ? { keyProvisioning } : {}),
        ...(args.policyOut !== undefined ? { releasePolicies: { dir: args.policyOut, bind: args.bind, ...(args.maaEndpoint ? { maaEndpoint: args.maaEndpoint } : {}) } } : {}),
        ...(args.tmpDir !== undefined ? { tmpDir: args.tmpDir } : {}),
        report,
      });
      const result: BuildResult = {
        source: { reference: formatReference(sourceRef), digest: source.manifestDigest },
        destination: { reference: formatReference(destRef), digest: out.digest },
        identity: out.identity,
        files: out.files,
        encryptedBytes: out.encryptedBytes,
        layers: out.layers,
        timings: out.timings,
      };
      if (out.envelope !== undefined) result.envelope = args.envelopeOut;
      if (out.releasePolicyFiles !== undefined) result.releasePolicies = out.releasePolicyFiles;
      if (destRef.transport === 'docker' && args.k8s !== undefined) {
        await writeK8s(args, destRef, out, source.config.config, report);
        result.k8s = args.k8s;
      }
      if (destRef.transport === 'docker' && args.attestKey !== undefined) {
        const digests: Record<string, string> = {};
        for (const f of out.releasePolicyFiles ?? []) digests[f.slice(f.lastIndexOf('/') + 1)] = await fileSha256(f);
        const attested = await attestImage({ ...destRef, digest: out.digest }, {
          signing: { kind: 'key', privateKey: await loadSigstorePrivateKey(args.attestKey) },
          enclave: enclavePredicate({ identity: out.identity, runtime: { name: 'gramine', version: runtime.version }, trustedFiles: out.trustedFiles, encryptedPaths: out.encryptedPaths, releasePolicyDigests: digests }),
          provenance: {
            source: { reference: formatReference(sourceRef), digest: source.manifestDigest },
            ...(runtime.image ? { runtime: { reference: args.runtimeImage!, digest: runtime.image.image.manifestDigest } } : {}),
            parameters: { settings, encrypt: args.encrypt ?? [], trust: args.trust ?? [], exclude: args.exclude ?? [] },
            ...(io.env.SOURCE_DATE_EPOCH ? { sourceDateEpoch: epoch } : {}),
          },
          registry,
          report,
        });
        result.attestations = attested.attestations;
      }
      return result;
    } finally {
      await source.close();
    }
  } finally {
    await close();
  }
}

/** The build command. */
export const buildCommand: CommandHandler<Args, BuildResult> = {
  stages: () => [
    { id: 'flatten', title: 'Reading and hashing the image' },
    { id: 'measure', title: 'Measuring the enclave' },
    { id: 'sign', title: 'Signing the SIGSTRUCT' },
    { id: 'assemble', title: 'Assembling the confidential image' },
    { id: 'write', title: 'Writing the image' },
  ],
  cancellable: true,
  run,
  human: (r) => {
    const id = r.identity;
    const kept = r.layers.filter((l) => l.kept).length;
    const total = Object.values(r.timings).reduce((a, b) => a + b, 0);
    return [
      `Built ${r.destination.reference}@${r.destination.digest}`,
      `  MRENCLAVE  ${id.mrenclave}`,
      `  MRSIGNER   ${id.mrsigner}`,
      `  ISVPRODID ${id.isvProdId}  ISVSVN ${id.isvSvn}  debug ${id.debug ? 'YES (insecure: the host can read enclave memory)' : 'no'}`,
      `  files      ${r.files.trusted} trusted, ${r.files.encrypted} encrypted (${formatBytes(r.encryptedBytes)}), ${r.files.allowed} allowed, ${r.files.excluded} excluded`,
      `  layers     ${r.layers.length} (${kept} kept from the source), built in ${(total / 1000).toFixed(1)} s`,
      ...(r.envelope ? [`  key envelope ${r.envelope}`] : []),
      ...(r.releasePolicies ? [`  release policies ${r.releasePolicies.join(', ')}`] : []),
      ...(r.k8s ? [`  Kubernetes ${r.k8s}`] : []),
      ...(r.attestations ? [`  attestations ${r.attestations.length} (sigstore bundles as OCI referrers)`] : []),
    ].join('\n');
  },
};
