/**
 * Types of the release policies: what an enclave must prove (its identity) before the data key of
 * its encrypted files is released to it, in the formats of Azure Key Vault Secure Key Release,
 * Marblerun and Gramine's secret provisioning.
 */
import type { EnclaveIdentity } from '../../enclave/index.ts';

/**
 * The part of an EnclaveIdentity (src/enclave, from the SIGSTRUCT) a release policy binds to.
 * Measurements are 64 hex digits (lowercased on use); ISV values are 0..65535.
 */
export type ReleaseIdentity = Pick<EnclaveIdentity, 'mrenclave' | 'mrsigner' | 'isvProdId' | 'isvSvn' | 'debug'>;

/**
 * What a policy pins: `mrenclave` = exactly this build; `mrsigner` = any build by this signer with
 * this product id and at least this security version (lets the signer ship fixes without a new
 * policy).
 */
export type ReleaseBinding = 'mrenclave' | 'mrsigner';

/** Value of a claim condition (JSON scalar). */
export type SkrValue = string | number | boolean;

/** The operators of an SKR claim condition. */
export type SkrOperator = 'equals' | 'notEquals' | 'less' | 'lessOrEquals' | 'greater' | 'greaterOrEquals' | 'exists';

/** `{ "claim": NAME, <operator>: VALUE }`. */
export type SkrClaimCondition = { claim: string } & { [op in SkrOperator]?: SkrValue };

/** A claim condition, or an `anyOf` / `allOf` of conditions (nestable). */
export type SkrCondition = SkrClaimCondition | { anyOf: SkrCondition[] } | { allOf: SkrCondition[] };

/** One authority (attestation service, matched against the token's `iss`) with its conditions. */
export type SkrAuthority = { authority: string } & ({ allOf: SkrCondition[] } | { anyOf: SkrCondition[] });

/** An Azure Key Vault Secure Key Release policy (version 1.0.0). */
export interface SkrPolicy {
  version: '1.0.0';
  anyOf: SkrAuthority[];
}

/** Options of the policy generators. */
export interface ReleaseOptions {
  /** What the policies pin (default 'mrenclave'). */
  bind?: ReleaseBinding;
  /**
   * Microsoft Azure Attestation endpoint (the SKR authority), e.g.
   * "https://myattest.weu.attest.azure.net"; a bare host gets "https://". Without it no SKR policy
   * is written.
   */
  maaEndpoint?: string;
  /** Name of the Marblerun package entry (default "app"). */
  packageName?: string;
}

/** Settings of Gramine's secret_prov_attest library inside the enclave. */
export interface SecretProvOptions {
  /** key_name the provisioned key is installed as (SECRET_PROVISION_SET_KEY). */
  keyName: string;
  /** In-enclave path of the CA chain that verifies the provisioning server (required by Gramine). */
  caChainPath: string;
  /** "host:port" list of provisioning servers (default: Gramine's own default, localhost:4433). */
  servers?: string[];
  /** Gramine runtime directory inside the image (PKGLIBDIR); the library is in runtime/glibc. */
  pkglibdir?: string;
}

/** Result of writeReleasePolicies. */
export interface ReleasePoliciesResult {
  /** Files written, in a fixed order (the directory joined with each file name). */
  files: string[];
  /** Human warnings (debug enclave, no MAA endpoint). */
  warnings: string[];
}
