/**
 * Release policies generated from one enclave identity. Pure code: each function returns a JSON
 * object (keys in a fixed order) or text; release/write.ts puts them in files.
 *
 *   Azure Key Vault SKR (claims of Microsoft Azure Attestation's SGX tokens):
 *     bind=mrenclave: x-ms-sgx-mrenclave equals MRENCLAVE
 *     bind=mrsigner:  x-ms-sgx-mrsigner equals MRSIGNER, x-ms-sgx-product-id equals ISVPRODID,
 *                     x-ms-sgx-svn greaterOrEquals ISVSVN
 *     always:         x-ms-sgx-is-debuggable equals <debug>
 *   Marblerun Packages entry: UniqueID (mrenclave) or SignerID + ProductID + SecurityVersion, Debug.
 *   Gramine RA-TLS verifier env: RA_TLS_MRENCLAVE ("any" for bind=mrsigner), RA_TLS_MRSIGNER,
 *     RA_TLS_ISV_PROD_ID, RA_TLS_ISV_SVN (a minimum, as Gramine checks it), and
 *     RA_TLS_ALLOW_DEBUG_ENCLAVE_INSECURE=1 only for a debug enclave.
 */
import { CconvError } from '../../errors.ts';
import { checkReleaseIdentity } from './identity.ts';
import type { ReleaseBinding, ReleaseIdentity, SecretProvOptions, SkrClaimCondition, SkrPolicy } from './types.ts';

/** Default Gramine PKGLIBDIR inside cconv images (runtimes/gramine DEFAULT_GRAMINE_SETTINGS.pkglibdir). */
export const DEFAULT_PKGLIBDIR = '/usr/lib/x86_64-linux-gnu/gramine';

function checkBinding(bind: ReleaseBinding): ReleaseBinding {
  if (bind !== 'mrenclave' && bind !== 'mrsigner') throw new CconvError('E_USAGE', `--bind must be mrenclave or mrsigner, not ${String(bind)}`);
  return bind;
}

/**
 * The MAA endpoint as an SKR authority: "https://" added to a bare host, trailing "/" removed.
 * E_USAGE when it is not an https URL with a host and no path, query or credentials.
 */
export function normalizeMaaEndpoint(endpoint: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CconvError('E_USAGE', `--maa-endpoint is not a URL: ${endpoint}`);
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new CconvError('E_USAGE', `--maa-endpoint must be an https URL of an attestation provider, e.g. https://NAME.REGION.attest.azure.net (got ${endpoint})`);
  }
  return `https://${url.host}`;
}

/** The Azure Key Vault Secure Key Release policy for `identity` (see module comment). */
export function azureSkrPolicy(identity: ReleaseIdentity, opts: { maaEndpoint: string; bind?: ReleaseBinding }): SkrPolicy {
  const id = checkReleaseIdentity(identity);
  const bind = checkBinding(opts.bind ?? 'mrenclave');
  const claims: SkrClaimCondition[] =
    bind === 'mrenclave'
      ? [{ claim: 'x-ms-sgx-mrenclave', equals: id.mrenclave }]
      : [
          { claim: 'x-ms-sgx-mrsigner', equals: id.mrsigner },
          { claim: 'x-ms-sgx-product-id', equals: id.isvProdId },
          { claim: 'x-ms-sgx-svn', greaterOrEquals: id.isvSvn },
        ];
  claims.push({ claim: 'x-ms-sgx-is-debuggable', equals: id.debug });
  return { version: '1.0.0', anyOf: [{ authority: normalizeMaaEndpoint(opts.maaEndpoint), allOf: claims }] };
}

/** A Marblerun package definition. */
export type MarblerunPackage =
  | { UniqueID: string; Debug: boolean }
  | { SignerID: string; ProductID: number; SecurityVersion: number; Debug: boolean };

/** `{ "Packages": { <name>: {...} } }`, to merge into a Marblerun manifest. */
export function marblerunPackages(identity: ReleaseIdentity, opts: { packageName?: string; bind?: ReleaseBinding } = {}): { Packages: Record<string, MarblerunPackage> } {
  const id = checkReleaseIdentity(identity);
  const bind = checkBinding(opts.bind ?? 'mrenclave');
  const name = opts.packageName ?? 'app';
  if (name === '') throw new CconvError('E_USAGE', 'the Marblerun package name must not be empty');
  const pkg: MarblerunPackage =
    bind === 'mrenclave'
      ? { UniqueID: id.mrenclave, Debug: id.debug }
      : { SignerID: id.mrsigner, ProductID: id.isvProdId, SecurityVersion: id.isvSvn, Debug: id.debug };
  return { Packages: { [name]: pkg } };
}

/** The RA-TLS verifier settings as ordered [name, value] pairs. */
export function raTlsVerifierEnv(identity: ReleaseIdentity, opts: { bind?: ReleaseBinding } = {}): Array<[string, string]> {
  const id = checkReleaseIdentity(identity);
  const bind = checkBinding(opts.bind ?? 'mrenclave');
  const env: Array<[string, string]> = [
    ['RA_TLS_MRENCLAVE', bind === 'mrenclave' ? id.mrenclave : 'any'],
    ['RA_TLS_MRSIGNER', id.mrsigner],
    ['RA_TLS_ISV_PROD_ID', String(id.isvProdId)],
    ['RA_TLS_ISV_SVN', String(id.isvSvn)],
  ];
  if (id.debug) env.push(['RA_TLS_ALLOW_DEBUG_ENCLAVE_INSECURE', '1']);
  return env;
}

/** The verifier env file text: `NAME=value` lines, no quoting needed (values are hex/decimal/any). */
export function raTlsVerifierEnvFile(identity: ReleaseIdentity, opts: { bind?: ReleaseBinding } = {}): string {
  return raTlsVerifierEnv(identity, opts).map(([k, v]) => `${k}=${v}\n`).join('');
}

/** A manifest fragment (TOML-shaped: strings and tables only). */
export interface SecretProvFragment {
  loader: { env: Record<string, string> };
  sgx: { remote_attestation: 'dcap' };
}

const SAFE_ENV = /^[^\0\n]*$/;

/**
 * The manifest settings that make Gramine's secret_prov_attest library fetch the data key over
 * RA-TLS before the app starts and install it as key `keyName`: LD_PRELOAD of
 * <pkglibdir>/runtime/glibc/libsecret_prov_attest.so, SECRET_PROVISION_CONSTRUCTOR = "1",
 * SECRET_PROVISION_SET_KEY, SECRET_PROVISION_CA_CHAIN_PATH, SECRET_PROVISION_SERVERS (when given),
 * and sgx.remote_attestation = "dcap". `existingPreload` (the image's LD_PRELOAD) is kept after
 * the library. The pipeline merges this over the rendered manifest; the library and the CA chain
 * must be in the image and trusted.
 */
export function secretProvManifest(opts: SecretProvOptions & { existingPreload?: string }): SecretProvFragment {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.keyName)) throw new CconvError('E_USAGE', `key name ${JSON.stringify(opts.keyName)} must match [A-Za-z0-9_.-]+`);
  if (!opts.caChainPath.startsWith('/') || !SAFE_ENV.test(opts.caChainPath)) {
    throw new CconvError('E_USAGE', 'the secret-provisioning CA chain path must be an absolute in-enclave path');
  }
  const servers = opts.servers ?? [];
  for (const s of servers) {
    if (!/^[A-Za-z0-9.-]+:[0-9]{1,5}$/.test(s) && !/^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$/.test(s)) {
      throw new CconvError('E_USAGE', `secret-provisioning server must be HOST:PORT, not ${JSON.stringify(s)}`);
    }
  }
  const lib = `${opts.pkglibdir ?? DEFAULT_PKGLIBDIR}/runtime/glibc/libsecret_prov_attest.so`;
  const preload = opts.existingPreload !== undefined && opts.existingPreload !== '' ? `${lib}:${opts.existingPreload}` : lib;
  const env: Record<string, string> = {
    LD_PRELOAD: preload,
    SECRET_PROVISION_CONSTRUCTOR: '1',
    SECRET_PROVISION_SET_KEY: opts.keyName,
    SECRET_PROVISION_CA_CHAIN_PATH: opts.caChainPath,
  };
  if (servers.length > 0) env.SECRET_PROVISION_SERVERS = servers.join(';');
  return { loader: { env }, sgx: { remote_attestation: 'dcap' } };
}
