/**
 * deploy/: Kubernetes objects for running a confidential image on AKS confidential-computing
 * (Intel SGX) nodes: the image by digest, EPC requests sized from the enclave, node placement,
 * DCAP quote wiring and key-release settings (`cconv build --k8s FILE`).
 */
export type {
  AttestationWiring,
  DeployKeyRelease,
  DeploymentInput,
  DeploymentPlan,
  DeployOptions,
  EnclaveMemory,
  EpcResourceKind,
  K8sToleration,
} from './types.ts';
export { deploymentYaml, NAME_LABEL, planDeployment, renderDeployment, writeDeployment } from './k8s.ts';
export {
  AKS_EPC_RESOURCE,
  EDMM_DEFAULT_EPC_MIB,
  enclaveMemoryFromManifest,
  epcRequestMiB,
  INTEL_ENCLAVE_RESOURCE,
  INTEL_EPC_RESOURCE,
  INTEL_PROVISION_RESOURCE,
  MAX_EPC_MIB,
} from './epc.ts';
export { defaultName, exposedPorts, imageByDigest, sanitizeName } from './names.ts';
export type { ExposedPort } from './names.ts';
export { AESMD_DIR, AESMD_VOLUME, WORKLOAD_IDENTITY_LABEL } from './pod.ts';
