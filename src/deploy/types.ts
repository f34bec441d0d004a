/**
 * Input of the Kubernetes Deployment generator (`cconv build --k8s FILE`): what was built (image
 * digest, enclave identity, enclave memory, image config) and how the cluster is set up (EPC
 * resource name, attestation wiring, node placement, key release).
 */
import type { ReleaseIdentity } from '../encrypt/index.ts';
import type { ContainerConfig } from '../image/index.ts';

/**
 * Which device plugin resource carries the EPC request:
 *   'intel': `sgx.intel.com/epc` (a quantity such as "256Mi"), advertised by Intel's SGX device
 *            plugin and, on current AKS node images, by the confcom add-on; the AKS quickstart uses it.
 *   'aks':   `kubernetes.azure.com/sgx_epc_mem_in_MiB` (an integer of MiB), the resource of the
 *            AKS confcom add-on's original SGX device plugin, still shown in the add-on docs.
 */
export type EpcResourceKind = 'intel' | 'aks';

/**
 * How the enclave gets DCAP quotes. Gramine's untrusted loader always asks an AESM service over
 * the UNIX socket /var/run/aesmd/aesm.socket (pal/src/host/linux-sgx/host_platform.c):
 *   'aks-quote-helper': AESM is the confcom add-on's SGX quote helper DaemonSet on the node
 *            (`az aks addon update --addon confcom --enable-sgxquotehelper`); the pod mounts the
 *            node's /var/run/aesmd and sets SGX_AESM_ADDR=1, as the add-on docs prescribe.
 *   'in-proc': nothing is mounted; the image must start its own aesmd (and, with Intel's plugin,
 *            needs /dev/sgx_provision: see `intelDeviceRequests`).
 */
export type AttestationWiring = 'aks-quote-helper' | 'in-proc';

/**
 * Key release settings from the encryption step. They go into annotations (for operators and
 * tooling) and, only where Gramine lets host environment through, into the container env.
 *   gramine-secret-prov: the SECRET_PROVISION_* settings are measured into the manifest's
 *     loader.env, so the pod sets none of them; `servers` is recorded. With `serversFromPod` the
 *     pod sets SECRET_PROVISION_SERVERS, which reaches the enclave only if the manifest declares
 *     `loader.env.SECRET_PROVISION_SERVERS = { passthrough = true }`.
 *   azure-skr: Microsoft Azure Attestation endpoint and (optionally) the Key Vault key URL are
 *     recorded; with `serviceAccountName` the pod runs under that account with the AKS workload
 *     identity label, so the app can call Key Vault's release operation.
 */
export type DeployKeyRelease =
  | { kind: 'gramine-secret-prov'; servers?: string[]; serversFromPod?: boolean }
  | { kind: 'azure-skr'; maaEndpoint: string; keyUrl?: string; serviceAccountName?: string };

/** The enclave's memory settings, as in the manifest (sgx.enclave_size, sgx.edmm_enable). */
export interface EnclaveMemory {
  /** Gramine size string ("1G", "0x40000K") or a byte count. */
  enclaveSize: string | number | bigint;
  edmm: boolean;
}

/** A pod toleration (Kubernetes core/v1 Toleration). */
export interface K8sToleration {
  key?: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** Everything `renderDeployment` needs. */
export interface DeploymentInput {
  /** The confidential image's name: `[docker://][REGISTRY/]REPO[:TAG][@DIGEST]`; the tag is dropped. */
  image: string;
  /** Its manifest digest (required unless `image` carries one; both given must agree). */
  digest?: string;
  /** Who the enclave is (from the signed SIGSTRUCT). */
  identity: ReleaseIdentity;
  /** Enclave memory (see `enclaveMemoryFromManifest`). */
  enclave: EnclaveMemory;
  /** The image's runtime config: ExposedPorts become container ports and the Service. */
  config?: ContainerConfig;
  options?: DeployOptions;
}

/** Knobs of the generated objects; every one has a default. */
export interface DeployOptions {
  /** Object and container name (DNS-1035 label); default: derived from the repository name. */
  name?: string;
  /** metadata.namespace; default: none (kubectl's current namespace). */
  namespace?: string;
  /** spec.replicas; default 1. */
  replicas?: number;
  /** Default 'intel'. */
  epcResource?: EpcResourceKind;
  /** EPC request in MiB, overriding the figure derived from the enclave (see epc.ts). */
  epcMiB?: number;
  /** Also request `sgx.intel.com/enclave` (and `/provision` with in-proc) for Intel's plugin without its webhook. */
  intelDeviceRequests?: boolean;
  /** Default 'aks-quote-helper'. */
  attestation?: AttestationWiring;
  /** AKS node pool names: required node affinity on the `agentpool` label. */
  nodePools?: string[];
  /** Extra nodeSelector labels. */
  nodeSelector?: Record<string, string>;
  /** Tolerate a NoSchedule taint keyed by the EPC resource name (a common way to reserve SGX pools). */
  tolerateSgxTaint?: boolean;
  tolerations?: K8sToleration[];
  /** Write a Service: 'auto' (default) when the image exposes ports, or always/never. */
  service?: 'auto' | boolean;
  /** Default 'ClusterIP'. */
  serviceType?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  /** CPU and memory quantities, each set as both request and limit. */
  cpu?: string;
  memory?: string;
  /** Extra container env (pass-through); values are never echoed in errors. */
  env?: Record<string, string>;
  keyRelease?: DeployKeyRelease;
  /** Names of image pull secrets (not needed for ACR attached to the cluster). */
  imagePullSecrets?: string[];
}

/** A rendered plan: the objects in output order and warnings for the user. */
export interface DeploymentPlan {
  /** Deployment, then Service when written; plain JSON objects with a fixed key order. */
  documents: Record<string, unknown>[];
  /** The EPC request actually written, in MiB. */
  epcMiB: number;
  /** Human warnings (debug enclave, EDMM kernel requirement, in-proc attestation). */
  warnings: string[];
}
