/**
 * The Kubernetes objects for a confidential image on AKS SGX nodes: an apps/v1 Deployment (and a
 * v1 Service when the image exposes ports), as a plan of plain objects and as YAML text.
 *
 * Output is deterministic: keys in a fixed order, maps sorted, no timestamps. YAML is written by
 * eemeli/yaml with the YAML 1.1 schema, so every string a YAML 1.1 reader (Kubernetes' go-yaml)
 * would take for a bool, number or null ("1", "yes", "on", "0755") is quoted; shared objects are
 * written out in full (no anchors/aliases); documents are separated by `---`.
 */
import { atomicWriteFile } from '../files.ts';
import { stringify } from 'yaml';
import { checkReleaseIdentity, DEBUG_WARNING } from '../encrypt/index.ts';
import { CconvError } from '../errors.ts';
import { epcRequestMiB, epcResource, INTEL_ENCLAVE_RESOURCE, INTEL_PROVISION_RESOURCE } from './epc.ts';
import { defaultName, exposedPorts, imageByDigest, isDns1035Label, isDns1123Label } from './names.ts';
import { attestationParts, keyReleaseParts, placementParts } from './pod.ts';
import { checkEnv, checkInt, checkQuantity, checkSubdomain } from './validate.ts';
import type { DeploymentInput, DeploymentPlan } from './types.ts';

/** The label that ties the Deployment, its pods and the Service together. */
export const NAME_LABEL = 'app.kubernetes.io/name';

function resolveName(input: DeploymentInput, repository: string): string {
  const name = input.options?.name;
  if (name === undefined) return defaultName(repository);
  if (typeof name !== 'string' || !isDns1035Label(name)) {
    throw new CconvError('E_USAGE', `name ${JSON.stringify(name)} is not a DNS-1035 label`, {
      hint: 'at most 63 lowercase letters, digits and "-", starting with a letter',
    });
  }
  return name;
}

/**
 * Builds the objects for `input` (see types.ts for every option and its default). Errors: E_USAGE
 * (options, identity, missing digest), E_REF_INVALID / E_DIGEST_INVALID (image), E_CONFIG
 * (enclave size, exposed ports).
 */
export function planDeployment(input: DeploymentInput): DeploymentPlan {
  const o = input.options ?? {};
  const id = checkReleaseIdentity(input.identity);
  const image = imageByDigest(input.image, input.digest);
  const name = resolveName(input, image.repository);
  if (o.namespace !== undefined && (typeof o.namespace !== 'string' || !isDns1123Label(o.namespace))) {
    throw new CconvError('E_USAGE', `namespace ${JSON.stringify(o.namespace)} is not a DNS-1123 label`);
  }
  const replicas = o.replicas === undefined ? 1 : checkInt(o.replicas, 'replicas', 0, 1000);
  const epcMiB = epcRequestMiB(input.enclave, o.epcMiB);
  const [epcName, epcValue] = epcResource(o.epcResource ?? 'intel', epcMiB);
  const wiring = o.attestation ?? 'aks-quote-helper';
  const attestation = attestationParts(wiring);
  const release = keyReleaseParts(o.keyRelease);
  const ownEnv = [...attestation.env, ...release.env];
  const env = [...ownEnv, ...checkEnv(o.env, ownEnv.map((e) => e.name))];
  const ports = exposedPorts(input.config);
  const wantService = o.service ?? 'auto';
  if (wantService !== 'auto' && typeof wantService !== 'boolean') throw new CconvError('E_USAGE', 'service must be "auto", true or false');
  if (wantService === true && ports.length === 0) {
    throw new CconvError('E_USAGE', 'a Service was asked for but the image exposes no ports', { hint: 'add EXPOSE to the Dockerfile' });
  }
  const serviceType = o.serviceType ?? 'ClusterIP';
  if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(serviceType)) throw new CconvError('E_USAGE', 'serviceType must be ClusterIP, NodePort or LoadBalancer');
  if (o.imagePullSecrets !== undefined && !Array.isArray(o.imagePullSecrets)) throw new CconvError('E_USAGE', 'imagePullSecrets must be a list of secret names');
  const pullSecrets = (o.imagePullSecrets ?? []).map((s) => ({ name: checkSubdomain(s, 'image pull secret') }));

  // Resources: EPC requests = limits (extended resources cannot be overcommitted); cpu/memory optional.
  const amounts: Record<string, string | number> = {};
  if (o.cpu !== undefined) amounts.cpu = checkQuantity(o.cpu, 'cpu');
  if (o.memory !== undefined) amounts.memory = checkQuantity(o.memory, 'memory');
  amounts[epcName] = epcValue;
  if (o.intelDeviceRequests === true) {
    amounts[INTEL_ENCLAVE_RESOURCE] = 1;
    if (wiring === 'in-proc') amounts[INTEL_PROVISION_RESOURCE] = 1;
  }

  const labels = { [NAME_LABEL]: name };
  const annotations: Record<string, string> = {
    'cconv.dev/mrenclave': id.mrenclave,
    'cconv.dev/mrsigner': id.mrsigner,
    'cconv.dev/isvprodid': String(id.isvProdId),
    'cconv.dev/isvsvn': String(id.isvSvn),
    'cconv.dev/debug': String(id.debug),
    ...release.annotations,
  };
  const meta = (extra: Record<string, unknown>) => ({ name, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), ...extra });

  // No command/args: the image's own entrypoint starts Gramine. No privileged mode: the device
  // plugin hands the container /dev/sgx_enclave through its EPC allocation.
  const container: Record<string, unknown> = { name, image: image.ref, imagePullPolicy: 'IfNotPresent' };
  if (ports.length > 0) container.ports = ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol }));
  if (env.length > 0) container.env = env;
  container.resources = { limits: { ...amounts }, requests: { ...amounts } };
  container.securityContext = { privileged: false, allowPrivilegeEscalation: false };
  if (attestation.volumeMounts.length > 0) container.volumeMounts = attestation.volumeMounts;

  const podSpec: Record<string, unknown> = {};
  if (release.serviceAccountName !== undefined) podSpec.serviceAccountName = release.serviceAccountName;
  if (pullSecrets.length > 0) podSpec.imagePullSecrets = pullSecrets;
  Object.assign(podSpec, placementParts(o, epcName));
  podSpec.containers = [container];
  if (attestation.volumes.length > 0) podSpec.volumes = attestation.volumes;

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta({ labels, annotations }),
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels: { ...labels, ...release.podLabels }, annotations: { ...annotations } }, spec: podSpec },
    },
  };
  const documents: Record<string, unknown>[] = [deployment];
  if (ports.length > 0 && wantService !== false) {
    documents.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta({ labels }),
      spec: {
        type: serviceType,
        selector: labels,
        ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: p.protocol })),
      },
    });
  }

  const warnings: string[] = [];
  if (id.debug) warnings.push(DEBUG_WARNING);
  if (input.enclave?.edmm === true && o.epcMiB === undefined) {
    warnings.push(`EDMM enclave: EPC request ${epcMiB} MiB is an estimate (memory is added on demand); set epcMiB to the measured working set. EDMM needs Linux >= 6.0 on the node`);
  }
  if (wiring === 'in-proc') warnings.push('in-proc attestation: nothing is mounted, so the image must run its own aesmd at /var/run/aesmd/aesm.socket for Gramine to get quotes');
  warnings.push(...release.warnings);
  return { documents, epcMiB, warnings };
}

/** The objects of `plan` as YAML text (see module comment). */
export function deploymentYaml(plan: Pick<DeploymentPlan, 'documents'>): string {
  return plan.documents.map((doc) => stringify(doc, { version: '1.1', lineWidth: 0, indentSeq: true, aliasDuplicateObjects: false })).join('---\n');
}

/** Renders `input` to YAML text: planDeployment then deploymentYaml. Same errors as planDeployment. */
export function renderDeployment(input: DeploymentInput): string {
  return deploymentYaml(planDeployment(input));
}

/**
 * Writes the rendered YAML to `path` atomically (a temp file in the same directory, then rename;
 * an existing file is replaced) and returns the plan. E_IO on file-system errors.
 */
export async function writeDeployment(path: string, input: DeploymentInput): Promise<DeploymentPlan> {
  const plan = planDeployment(input);
  const text = deploymentYaml(plan);
  await atomicWriteFile(path, text, { mode: 0o644, overwrite: true });
  return plan;
}
