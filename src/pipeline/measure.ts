/**
 * Image -> measured enclave: flatten the image (hashing every file in the same pass), choose
 * trusted/allowed/encrypted files by policy, render the Gramine manifest from the image config,
 * complete it exactly as Gramine's signer does, and compute MRENCLAVE. Nothing is written.
 */
import type { Image, Layer } from '../image/image.ts';
import { completeManifest, computeMrenclave, type EnclaveAttributes, type TrustedFile } from '../measure/index.ts';
import { defaultPolicy, selectFiles, type FileSelection, type Policy } from '../policy/index.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import { flatten } from '../rootfs/index.ts';
import type { FlattenLimits, Rootfs } from '../rootfs/types.ts';
import { renderManifest, type GramineSettings, type ManifestTable, type RenderedManifest } from '../runtimes/index.ts';
import { keyProvisioningFragment, type SecretProvisioning } from './key-provisioning.ts';
import type { GramineRuntime } from './runtime.ts';

/** Inputs of `measureImage` besides the image. */
export interface MeasureOptions {
  runtime: GramineRuntime;
  /** Trust policy (with CLI overrides applied); default policies/default.json. */
  policy?: Policy;
  settings?: Partial<GramineSettings>;
  /** A user manifest fragment (parsed TOML), merged last with checks. */
  fragment?: ManifestTable;
  report?: Reporter;
  /** Passed to flatten: its bounds (unset fields keep the defaults). */
  limits?: Partial<FlattenLimits>;
  /** Passed to flatten: called with each layer once it is read and verified. */
  onLayerRead?: (layer: Layer) => void;
  /** Provision the data key with Gramine's secret provisioning (key-provisioning.ts). */
  keyProvisioning?: SecretProvisioning;
}

/** What SIGSTRUCT needs and what a user pins in attestation policies (before signing: no MRSIGNER). */
export interface MeasuredIdentity {
  /** Lowercase hex. */
  mrenclave: string;
  attributes: EnclaveAttributes;
  isvProdId: number;
  isvSvn: number;
  debug: boolean;
}

/** A measured image: everything the signer and the assembler need. */
export interface MeasuredImage {
  rootfs: Rootfs;
  selection: FileSelection;
  rendered: RenderedManifest;
  /** The exact `.manifest.sgx` bytes that MRENCLAVE covers. */
  manifestSgx: Buffer;
  /** Every trusted file as listed in the manifest (image, runtime and cconv's own). */
  trustedFiles: TrustedFile[];
  identity: MeasuredIdentity;
}

/**
 * Measures `image` for `options.runtime`. Errors: those of flatten (E_UNSAFE_PATH, ...), of the
 * policy and renderer (E_CONFIG, E_NO_ENTRYPOINT, E_MANIFEST_TEMPLATE) and of the measurement
 * (E_ENCLAVE_LAYOUT, E_ELF_INVALID, E_TRUSTED_FILE).
 */
export async function measureImage(image: Image, options: MeasureOptions): Promise<MeasuredImage> {
  const report = options.report ?? silentReporter;
  const { runtime } = options;
  const rootfs = await flatten(image, {
    hash: true,
    report,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.onLayerRead ? { onLayerRead: options.onLayerRead } : {}),
  });
  const policy = options.policy ?? (await defaultPolicy());
  const selection = selectFiles(rootfs, policy);
  for (const path of selection.unencryptable) {
    report({ type: 'log', level: 'warn', message: `${path} matches an encrypt rule but is not a regular file: it has no content to encrypt and stays as it is` });
  }
  const settings: Partial<GramineSettings> = { ...options.settings, pkglibdir: runtime.pkglibdir };
  const fragment = options.keyProvisioning
    ? keyProvisioningFragment(options.keyProvisioning, { image, selection, runtime, settings }, options.fragment)
    : options.fragment;
  const rendered = await renderManifest({
    config: image.config,
    rootfs,
    settings,
    selection,
    runtimeTrustedFiles: runtime.trustedFiles,
    ...(fragment !== undefined ? { fragment } : {}),
  });
  return runTask(report, 'measure', 'Measuring the enclave', async () => {
    const completed = await completeManifest(rendered.manifest, {
      constants: runtime.constants,
      libos: { sha256: runtime.libosSha256 },
      rootfs,
      report,
    });
    const m = await computeMrenclave({ manifestSgx: completed.bytes, manifest: completed.manifest, libpal: runtime.libpal, constants: runtime.constants });
    return {
      rootfs,
      selection,
      rendered,
      manifestSgx: completed.bytes,
      trustedFiles: completed.trustedFiles,
      identity: { mrenclave: m.mrenclave, attributes: m.attributes, isvProdId: m.isvProdId, isvSvn: m.isvSvn, debug: m.attributes.debug },
    };
  });
}
