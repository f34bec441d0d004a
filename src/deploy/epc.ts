/**
 * EPC (SGX Enclave Page Cache) requests for a Gramine enclave on AKS confidential nodes.
 *
 * Resources (AKS docs, articles/confidential-computing):
 *   - `sgx.intel.com/epc`: the EPC resource of Intel's SGX device plugin. The AKS quickstart
 *     (confidential-enclave-nodes-aks-get-started.md) requests it as a quantity ("10Mi") with
 *     requests = limits; with the confcom add-on it is what schedules the pod onto an SGX node and
 *     gets the SGX device into the container (no privileged mode, no device hostPath).
 *   - `kubernetes.azure.com/sgx_epc_mem_in_MiB`: the same accounting in whole MiB, advertised by the
 *     add-on's original device plugin (confidential-nodes-aks-addon.md; the FAQ notes the limit alone
 *     "will automatically place the job into confidential computing node").
 * Neither is enforced by the kernel: it is scheduler bookkeeping of the node's EPC, so the figure
 * should be what the enclave really commits (too little over-packs a node and makes the kernel
 * page EPC, too much strands EPC).
 *
 * Sizing:
 *   - Without EDMM Gramine adds every page of sgx.enclave_size at creation (manifest-syntax.rst,
 *     "Enclave size": the size is committed to EPC up front), so the request is the enclave size
 *     rounded up to MiB.
 *   - With EDMM only the loaded image and pre-allocated thread slots are added at creation and the
 *     heap grows on demand up to sgx.enclave_size (default 1024G), so the enclave size says nothing
 *     about use. AKS documents no EDMM figure; cconv requests min(enclave size, 256 MiB), 256 MiB
 *     being Gramine's own default enclave size without EDMM, i.e. what a default enclave commits.
 *     Set `epcMiB` to the app's measured working set for anything else.
 *   - Out-of-proc quoting (the AKS quote helper) runs QE/PCE in the helper's pod, which "doesn't
 *     consume enclave memory from the container quota" (add-on docs), so nothing is added for it.
 */
import { CconvError } from '../errors.ts';
import { parseManifestToml, parseSize, readSgxSettings, type TomlTable } from '../measure/index.ts';
import type { EnclaveMemory, EpcResourceKind } from './types.ts';

/** Intel SGX device plugin resource: a quantity string ("256Mi"). */
export const INTEL_EPC_RESOURCE = 'sgx.intel.com/epc';
/** Intel SGX device plugin resource giving /dev/sgx_enclave (added by Intel's webhook when installed). */
export const INTEL_ENCLAVE_RESOURCE = 'sgx.intel.com/enclave';
/** Intel SGX device plugin resource giving /dev/sgx_provision (in-proc quoting only). */
export const INTEL_PROVISION_RESOURCE = 'sgx.intel.com/provision';
/** AKS confcom add-on resource: integer MiB. */
export const AKS_EPC_RESOURCE = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
/** EPC request with EDMM when no `epcMiB` is given, capped by the enclave size (see module comment). */
export const EDMM_DEFAULT_EPC_MIB = 256;
/** Largest EPC request accepted (1 TiB, the most EPC any Xeon offers). */
export const MAX_EPC_MIB = 1024 * 1024;

const MIB = 1024n * 1024n;

function enclaveBytes(size: EnclaveMemory['enclaveSize']): bigint {
  let bytes: bigint;
  if (typeof size === 'string') {
    try {
      bytes = parseSize(size, 'sgx.enclave_size');
    } catch (err) {
      throw new CconvError('E_CONFIG', `enclave size ${JSON.stringify(size)} is not a Gramine size`, {
        hint: 'use a number with an optional K, M or G suffix, e.g. "1G"',
        cause: err,
      });
    }
  } else if (typeof size === 'bigint' || (typeof size === 'number' && Number.isSafeInteger(size))) {
    bytes = BigInt(size);
  } else {
    throw new CconvError('E_CONFIG', 'enclave size must be a Gramine size string or a whole number of bytes');
  }
  if (bytes <= 0n) throw new CconvError('E_CONFIG', 'enclave size must be greater than zero');
  return bytes;
}

/**
 * The EPC request in MiB for `enclave` (see the module comment), or `override` when given.
 * E_CONFIG for a bad enclave size, E_USAGE for an override that is not an integer 1..MAX_EPC_MIB.
 */
export function epcRequestMiB(enclave: EnclaveMemory, override?: number): number {
  if (override !== undefined) {
    if (!Number.isInteger(override) || override < 1 || override > MAX_EPC_MIB) {
      throw new CconvError('E_USAGE', `the EPC request must be a whole number of MiB from 1 to ${MAX_EPC_MIB}`);
    }
    return override;
  }
  if (typeof enclave.edmm !== 'boolean') throw new CconvError('E_CONFIG', 'enclave edmm must be true or false');
  const mib = (enclaveBytes(enclave.enclaveSize) + MIB - 1n) / MIB;
  const wanted = enclave.edmm && mib > BigInt(EDMM_DEFAULT_EPC_MIB) ? BigInt(EDMM_DEFAULT_EPC_MIB) : mib;
  if (wanted > BigInt(MAX_EPC_MIB)) {
    throw new CconvError('E_CONFIG', `the enclave needs ${wanted} MiB of EPC, more than any SGX node has`, {
      hint: 'lower sgx.enclave_size, or enable EDMM so memory is added on demand',
    });
  }
  return Number(wanted);
}

/** The resources entry (name and value) of an EPC request; requests and limits both take it. */
export function epcResource(kind: EpcResourceKind, mib: number): [string, string | number] {
  if (kind === 'intel') return [INTEL_EPC_RESOURCE, `${mib}Mi`];
  if (kind === 'aks') return [AKS_EPC_RESOURCE, mib];
  throw new CconvError('E_USAGE', `the EPC resource must be "intel" or "aks", not ${JSON.stringify(kind)}`);
}

/**
 * The enclave memory of a final `.manifest.sgx` (TOML text or bytes, as measured): sgx.enclave_size
 * and sgx.edmm_enable, validated as Gramine's signer does. Errors: E_MANIFEST_TEMPLATE (not TOML,
 * bad values), E_ENCLAVE_LAYOUT (size not a power of two), E_CONFIG (no sgx table).
 */
export function enclaveMemoryFromManifest(manifestSgx: string | Uint8Array): EnclaveMemory {
  const text = typeof manifestSgx === 'string' ? manifestSgx : Buffer.from(manifestSgx).toString('utf8');
  const doc = parseManifestToml(text);
  const sgx = doc.sgx;
  if (sgx === undefined || typeof sgx !== 'object' || Array.isArray(sgx)) {
    throw new CconvError('E_CONFIG', 'the manifest has no [sgx] table', { hint: 'give the final .manifest.sgx, as signed' });
  }
  const settings = readSgxSettings(sgx as TomlTable);
  return { enclaveSize: settings.enclaveSize, edmm: settings.edmm };
}
