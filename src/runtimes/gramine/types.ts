/**
 * Types of the Gramine runtime renderer. A manifest is held as a TOML-shaped object whose key
 * order is the document order: integers are `bigint` (TOML has 64-bit integers; this is also what
 * src/measure/toml.ts writes), strings, booleans, arrays and tables.
 */
import type { ImageConfig } from '../../image/types.ts';
import type { FileSelection } from '../../policy/types.ts';
import type { Rootfs } from '../../rootfs/types.ts';
import type { UntrustedCode } from './untrusted-code.ts';

/** A manifest value. */
export type ManifestValue = string | bigint | number | boolean | ManifestValue[] | ManifestTable;
/** A manifest table; key insertion order is the output order. */
export interface ManifestTable {
  [key: string]: ManifestValue;
}

/** Gramine log levels (loader.log_level). */
export type LogLevel = 'none' | 'error' | 'warning' | 'debug' | 'trace' | 'all';
/** Values of sgx.cpu_features.{avx,avx512,amx}. */
export type OptionalCpuFeature = 'unspecified' | 'disabled' | 'required';
/** Values of sgx.cpu_features.{mpx,pkru}. */
export type HardeningCpuFeature = 'disabled' | 'required';

/** Every knob cconv exposes for the Gramine manifest. Defaults: DEFAULT_GRAMINE_SETTINGS. */
export interface GramineSettings {
  /** sgx.enclave_size: Gramine size string ("1G", "512M", "0x40000K"). */
  enclaveSize: string;
  /** sgx.max_threads: thread slots (pre-allocated slots with EDMM). */
  maxThreads: number;
  /** sgx.edmm_enable: dynamic memory (needs SGX2 CPU and Linux >= 6.0 on the node). */
  edmm: boolean;
  /** sgx.isvprodid (0..65535). */
  isvProdId: number;
  /** sgx.isvsvn (0..65535). */
  isvSvn: number;
  /** sgx.debug: a debuggable (insecure) enclave. Also unlocks debug-only manifest keys. */
  debug: boolean;
  /** sgx.remote_attestation. */
  remoteAttestation: 'dcap' | 'none';
  /** sgx.cpu_features: only the features given are written (Gramine fills the rest). */
  cpuFeatures: { avx?: OptionalCpuFeature; avx512?: OptionalCpuFeature; amx?: OptionalCpuFeature; mpx?: HardeningCpuFeature; pkru?: HardeningCpuFeature };
  /** loader.log_level. Only "error" and "none" are fit for production. */
  logLevel: LogLevel;
  /** Take argv from the host command line (loader.insecure__use_cmdline_argv) instead of the trusted argv file. */
  insecureArgs: boolean;
  /**
   * Accept `sgx.allowed_files` entries (from the policy or the fragment) that cover the entrypoint,
   * a runtime library or an ELF file of the image: code Gramine does not check. Writes nothing
   * into the manifest; without it such an entry is E_CONFIG (untrusted-code.ts).
   */
  allowUntrustedCode: boolean;
  /** Where the Gramine runtime lives inside the output image (its PKGLIBDIR): libsysdb.so, runtime/glibc/. */
  pkglibdir: string;
  /** Where the trusted argv file lives inside the output image. */
  argvPath: string;
  /** key_name of the encrypted mounts written for encrypted files. */
  encryptedKeyName: string;
}

/** Input of `renderManifest`. */
export interface RenderInput {
  config: ImageConfig;
  rootfs: Rootfs;
  /** The settings the user gave (config file, CLI); missing keys take their defaults. */
  settings?: Partial<GramineSettings>;
  /** A user manifest fragment (parsed TOML), merged over everything else, with checks. */
  fragment?: ManifestTable;
  /** Files chosen by the policy (selectFiles); without it no image file is listed. */
  selection?: FileSelection;
  /**
   * The runtime's own files the app loads (runtime/glibc/*), pre-hashed, as in-image URIs. When
   * absent, the directory URI `file:<pkglibdir>/runtime/glibc/` is listed for the signer to expand.
   */
  runtimeTrustedFiles?: readonly { uri: string; sha256: string }[];
  /** The template object; default: runtimes/gramine/manifest.template.toml. */
  template?: ManifestTable;
}

/** A file cconv adds to the output image. */
export interface AddedFile {
  /** Absolute in-image path. */
  path: string;
  content: Buffer;
  /** Lowercase hex sha256 of content. */
  sha256: string;
}

/** Output of `renderManifest`. */
export interface RenderedManifest {
  /** The unsigned manifest (loader.entrypoint.sha256 is left to the signer). */
  manifest: ManifestTable;
  /** The trusted argv file (absent with insecureArgs); the assembler writes it, mode 0444. */
  argvFile?: AddedFile;
  /** The app's argv (argv[0] as in the image config). */
  argv: string[];
  /** libos.entrypoint: the absolute, symlink-free in-image path of the executable. */
  entrypoint: string;
  uid: number;
  gid: number;
  /** Directories the assembler must create (a WorkingDir absent from the image, as Docker does). */
  createDirs: string[];
  /** Settings after defaults. */
  settings: GramineSettings;
  /** Allowed entries that cover code (see untrusted-code.ts); non-empty only with `allowUntrustedCode`. */
  untrustedCode: UntrustedCode[];
}
