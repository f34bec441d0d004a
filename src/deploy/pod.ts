/**
 * The SGX-specific parts of the pod: DCAP attestation wiring, key-release settings and node
 * placement. Each function returns plain JSON pieces in a fixed key order; k8s.ts assembles them.
 */
import { normalizeMaaEndpoint } from '../encrypt/index.ts';
import { CconvError } from '../errors.ts';
import { checkLabelKey, checkLabelValue, checkSubdomain, checkTolerations } from './validate.ts';
import type { AttestationWiring, DeployKeyRelease, DeployOptions } from './types.ts';

/** Where AESM listens on an AKS SGX node (quote helper) and where Gramine looks for it. */
export const AESMD_DIR = '/var/run/aesmd';
/** Volume name used for the AESM socket directory (as in the AKS docs' samples). */
export const AESMD_VOLUME = 'var-run-aesmd';
/** AKS's workload identity pod label (the webhook injects the Azure token and client env). */
export const WORKLOAD_IDENTITY_LABEL = 'azure.workload.identity/use';

/** Container env, mounts and pod volumes for one attestation wiring. */
export interface AttestationParts {
  env: Array<{ name: string; value: string }>;
  volumeMounts: Array<{ name: string; mountPath: string }>;
  volumes: Array<Record<string, unknown>>;
}

/**
 * 'aks-quote-helper': the node's /var/run/aesmd (the confcom quote helper's AESM socket) mounted
 * at the same path, and SGX_AESM_ADDR=1, the opt-in the AKS add-on docs require for out-of-proc
 * quoting (Gramine itself always dials /var/run/aesmd/aesm.socket; the variable is for Intel's
 * quote libraries and costs nothing). DirectoryOrCreate, as Intel's SGX webhook uses, lets a pod
 * start before the helper on a new node. 'in-proc': nothing (the image runs its own aesmd).
 */
export function attestationParts(wiring: AttestationWiring): AttestationParts {
  if (wiring === 'in-proc') return { env: [], volumeMounts: [], volumes: [] };
  if (wiring !== 'aks-quote-helper') {
    throw new CconvError('E_USAGE', `attestation must be "aks-quote-helper" or "in-proc", not ${JSON.stringify(wiring)}`);
  }
  return {
    env: [{ name: 'SGX_AESM_ADDR', value: '1' }],
    volumeMounts: [{ name: AESMD_VOLUME, mountPath: AESMD_DIR }],
    volumes: [{ name: AESMD_VOLUME, hostPath: { path: AESMD_DIR, type: 'DirectoryOrCreate' } }],
  };
}

/** What key release adds to the pod. */
export interface KeyReleaseParts {
  annotations: Record<string, string>;
  env: Array<{ name: string; value: string }>;
  podLabels: Record<string, string>;
  serviceAccountName?: string;
  warnings: string[];
}

const SERVER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):([0-9]{1,5})$/;

function checkKeyUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CconvError('E_USAGE', 'the Key Vault key URL is not a URL');
  }
  if (u.protocol !== 'https:' || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '' || !/^\/keys\/[A-Za-z0-9-]+(\/[A-Za-z0-9]+)?$/.test(u.pathname)) {
    throw new CconvError('E_USAGE', `the Key Vault key URL must be https://VAULT/keys/NAME[/VERSION] (got ${u.origin}${u.pathname})`);
  }
  return `${u.origin}${u.pathname}`;
}

/**
 * Annotations, env and pod settings for the key-release kind (see DeployKeyRelease). E_USAGE for a
 * bad server, endpoint, key URL or service account.
 */
export function keyReleaseParts(release: DeployKeyRelease | undefined): KeyReleaseParts {
  const parts: KeyReleaseParts = { annotations: {}, env: [], podLabels: {}, warnings: [] };
  if (release === undefined) return parts;
  if (release.kind === 'gramine-secret-prov') {
    const servers = release.servers ?? [];
    if (!Array.isArray(servers)) throw new CconvError('E_USAGE', 'secret-provisioning servers must be a list of HOST:PORT');
    for (const s of servers) {
      const m = typeof s === 'string' ? SERVER.exec(s) : null;
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) {
        throw new CconvError('E_USAGE', `secret-provisioning server must be HOST:PORT, not ${JSON.stringify(s)}`);
      }
    }
    parts.annotations['cconv.dev/key-release'] = 'gramine-secret-prov';
    if (servers.length > 0) parts.annotations['cconv.dev/secret-provision-servers'] = servers.join(';');
    if (release.serversFromPod === true) {
      if (servers.length === 0) throw new CconvError('E_USAGE', 'serversFromPod needs at least one secret-provisioning server');
      parts.env.push({ name: 'SECRET_PROVISION_SERVERS', value: servers.join(';') });
      parts.warnings.push('SECRET_PROVISION_SERVERS is set in the pod: it reaches the enclave only if the manifest has loader.env.SECRET_PROVISION_SERVERS = { passthrough = true }');
    }
    return parts;
  }
  if (release.kind === 'azure-skr') {
    parts.annotations['cconv.dev/key-release'] = 'azure-skr';
    parts.annotations['cconv.dev/maa-endpoint'] = normalizeMaaEndpoint(release.maaEndpoint);
    if (release.keyUrl !== undefined) parts.annotations['cconv.dev/skr-key-url'] = checkKeyUrl(release.keyUrl);
    if (release.serviceAccountName !== undefined) {
      parts.serviceAccountName = checkSubdomain(release.serviceAccountName, 'service account');
      parts.podLabels[WORKLOAD_IDENTITY_LABEL] = 'true';
    }
    return parts;
  }
  throw new CconvError('E_USAGE', `key release kind must be "gramine-secret-prov" or "azure-skr", not ${JSON.stringify((release as { kind: unknown }).kind)}`);
}

/** nodeSelector, affinity and tolerations of the pod spec (absent keys are omitted). */
export function placementParts(options: DeployOptions, epcResourceName: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const selector = options.nodeSelector ?? {};
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) throw new CconvError('E_USAGE', 'nodeSelector must be an object of label: value');
  const keys = Object.keys(selector).sort();
  if (keys.length > 0) {
    const sel: Record<string, string> = {};
    for (const k of keys) sel[checkLabelKey(k, 'nodeSelector key')] = checkLabelValue(selector[k], `nodeSelector ${k}`);
    out.nodeSelector = sel;
  }
  const pools = options.nodePools ?? [];
  if (!Array.isArray(pools)) throw new CconvError('E_USAGE', 'nodePools must be a list of node pool names');
  if (pools.length > 0) {
    const values = [...new Set(pools.map((p) => checkLabelValue(p, 'node pool name')))].sort();
    if (values.includes('')) throw new CconvError('E_USAGE', 'a node pool name must not be empty');
    // AKS labels every node with its pool name as `agentpool` (the AKS quickstart's node pool selection).
    out.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'agentpool', operator: 'In', values }] }],
        },
      },
    };
  }
  const tolerations = checkTolerations(options.tolerations);
  if (options.tolerateSgxTaint === true) tolerations.unshift({ key: epcResourceName, operator: 'Exists', effect: 'NoSchedule' });
  if (tolerations.length > 0) out.tolerations = tolerations;
  return out;
}
