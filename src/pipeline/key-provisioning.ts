/**
 * `--key-provisioning gramine-secret-prov`: the enclave fetches its data key at start over RA-TLS
 * from a Gramine secret-provisioning server, which checks the enclave's quote against this build's
 * identity (the RA_TLS_* settings cconv writes with the release policies). This module turns the
 * choice into a manifest fragment (encrypt/release: secretProvManifest) merged under the user's
 * own fragment, after checking that what it relies on is measured: the CA chain that verifies the
 * server must be a trusted file of the image, and the runtime must ship libsecret_prov_attest.so.
 */
import { secretProvManifest } from '../encrypt/index.ts';
import { CconvError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import type { FileSelection } from '../policy/index.ts';
import { DEFAULT_GRAMINE_SETTINGS, imageEnv, type GramineSettings, type ManifestTable, type ManifestValue } from '../runtimes/index.ts';
import type { GramineRuntime } from './runtime.ts';

/** How the data key reaches the enclave at run time, besides the default (an external broker/KMS the app talks to). */
export interface SecretProvisioning {
  kind: 'gramine-secret-prov';
  /** In-image path of the PEM CA chain that verifies the provisioning server. */
  caChainPath: string;
  /** HOST:PORT of the provisioning servers (default: Gramine's, localhost:4433). */
  servers?: string[];
}

function isTable(v: ManifestValue | undefined): v is ManifestTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` merged into a copy of `base`, table by table; `over` wins elsewhere. */
function overlay(base: ManifestTable, over: ManifestTable): ManifestTable {
  const out: ManifestTable = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTable(b) && isTable(v) ? overlay(b, v) : v;
  }
  return out;
}

/**
 * The fragment for `prov` (merged under `userFragment`, which wins key by key). E_CONFIG when the
 * CA chain is not a trusted file of the image or the runtime has no libsecret_prov_attest.so;
 * E_USAGE for a malformed server or path (secretProvManifest).
 */
export function keyProvisioningFragment(
  prov: SecretProvisioning,
  ctx: { image: Image; selection: FileSelection; runtime: GramineRuntime; settings: Partial<GramineSettings> },
  userFragment: ManifestTable | undefined,
): ManifestTable {
  const { caChainPath } = prov;
  if (!ctx.selection.trusted.some((f) => f.path === caChainPath)) {
    throw new CconvError('E_CONFIG', `the secret-provisioning CA chain ${caChainPath} is not a trusted file of the image`, {
      hint: `add the server's CA certificate chain to the image at ${caChainPath} (and --trust it if the policy excludes it)`,
    });
  }
  const lib = `file:${ctx.runtime.pkglibdir}/runtime/glibc/libsecret_prov_attest.so`;
  if (!ctx.runtime.trustedFiles.some((f) => f.uri === lib)) {
    throw new CconvError('E_CONFIG', `the runtime has no ${lib.slice('file:'.length)}, which secret provisioning preloads`, {
      hint: 'use a Gramine runtime image built with secret provisioning (Gramine installs it by default)',
    });
  }
  const preload = imageEnv(ctx.image.config.config).get('LD_PRELOAD');
  const fragment = secretProvManifest({
    keyName: ctx.settings.encryptedKeyName ?? DEFAULT_GRAMINE_SETTINGS.encryptedKeyName,
    caChainPath,
    pkglibdir: ctx.runtime.pkglibdir,
    ...(prov.servers !== undefined ? { servers: prov.servers } : {}),
    ...(preload !== undefined ? { existingPreload: preload } : {}),
  }) as unknown as ManifestTable;
  return userFragment === undefined ? fragment : overlay(fragment, userFragment);
}
