/**
 * Option groups shared by the commands that turn an image into an enclave (measure, sign, build):
 * the Gramine runtime, the trust policy, the manifest settings and fragment, and the key
 * provisioning (its settings are measured too). Each group is a yargs
 * builder plus a function that turns parsed arguments into library inputs.
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { CconvError, wrapIoError } from '../../errors.ts';
import { parsePlatform } from '../../image/platform.ts';
import type { Image } from '../../image/image.ts';
import { parseManifestToml } from '../../measure/index.ts';
import { loadRuntimeDir, loadRuntimeImage, measureImage, type GramineRuntime, type MeasuredImage, type SecretProvisioning } from '../../pipeline/index.ts';
import type { CliIo } from '../command.ts';
import { limitsFrom, type LimitsArgs } from './limits.ts';
import { registryOptionsFrom, type RegistryArgs } from './registry.ts';
import { defaultPolicy, loadPolicy, policyWithOverrides, type Policy } from '../../policy/index.ts';
import type { Reporter } from '../../progress.ts';
import { loadGramineConfig, mergeSettings, validateSettings, type GramineSettings, type ManifestTable } from '../../runtimes/index.ts';
import { openSource, parseReference, type ImageReference, type SourceOptions } from '../../transports/index.ts';
import { connectDocker, dockerConnectionFromEnv, type DaemonOptions } from '../../transports/daemon/index.ts';

/** Parsed options of the enclave option groups (camel-cased by yargs). */
export interface EnclaveArgs {
  platform?: string;
  tmpDir?: string;
  runtime: string;
  runtimeImage?: string;
  runtimeDir?: string;
  gramineVersion?: string;
  policy?: string;
  trust?: string[];
  allow?: string[];
  exclude?: string[];
  encrypt?: string[];
  config?: string;
  manifest?: string;
  enclaveSize?: string;
  maxThreads?: number;
  edmm?: boolean;
  isvprodid?: number;
  isvsvn?: number;
  debug?: boolean;
  remoteAttestation?: string;
  logLevel?: string;
  insecureArgs?: boolean;
  allowUntrustedCode?: boolean;
  cpuFeature?: string[];
  keyProvisioning: 'none' | 'gramine-secret-prov';
  secretProvCa?: string;
  secretProvServer?: string[];
}

const ENCLAVE = 'Enclave settings (override the --config file):';
const POLICY = 'Trust policy:';
const RUNTIME = 'Runtime:';
const KEY_RELEASE = 'Encryption and key release:';

/** Adds the image, runtime, policy and settings options. */
export function enclaveOptions(y: Argv): Argv {
  return y
    .option('platform', { type: 'string', describe: 'platform to pick from a multi-platform image', defaultDescription: 'linux/amd64' })
    .option('tmp-dir', { type: 'string', describe: 'directory for temporary files', defaultDescription: '$TMPDIR or /tmp' })
    .option('runtime', { type: 'string', choices: ['gramine'], default: 'gramine', group: RUNTIME, describe: 'LibOS runtime' })
    .option('runtime-image', { type: 'string', group: RUNTIME, describe: 'image holding the Gramine runtime at its PKGLIBDIR (any reference form)' })
    .option('runtime-dir', { type: 'string', group: RUNTIME, describe: 'directory laid out as Gramine\'s PKGLIBDIR (libsysdb.so, sgx/libpal.so, runtime/glibc/)' })
    .conflicts('runtime-image', 'runtime-dir')
    .option('gramine-version', { type: 'string', group: RUNTIME, describe: 'Gramine version whose layout constants apply (runtimes/gramine/VERSION.json); default: the version the runtime image holds' })
    .option('policy', { type: 'string', group: POLICY, describe: 'policy file (JSON); default policies/default.json' })
    .option('trust', { type: 'string', array: true, group: POLICY, describe: 'also trust files matching GLOB (repeatable)' })
    .option('allow', { type: 'string', array: true, group: POLICY, describe: 'list files matching GLOB as allowed (unprotected) files' })
    .option('exclude', { type: 'string', array: true, group: POLICY, describe: 'leave files matching GLOB out of the enclave' })
    .option('encrypt', { type: 'string', array: true, group: POLICY, describe: 'encrypt files matching GLOB (mounted as encrypted files)' })
    .option('config', { type: 'string', group: ENCLAVE, describe: 'cconv.json with a "gramine" section of settings' })
    .option('manifest', { type: 'string', group: ENCLAVE, describe: 'Gramine manifest fragment (TOML) merged over the generated manifest' })
    .option('enclave-size', { type: 'string', group: ENCLAVE, describe: 'sgx.enclave_size, a power of two (e.g. 2G)', defaultDescription: '1G' })
    .option('max-threads', { type: 'number', group: ENCLAVE, describe: 'sgx.max_threads', defaultDescription: '32' })
    .option('edmm', { type: 'boolean', group: ENCLAVE, describe: 'sgx.edmm_enable (SGX2 dynamic memory)' })
    .option('isvprodid', { type: 'number', group: ENCLAVE, describe: 'sgx.isvprodid (0-65535)' })
    .option('isvsvn', { type: 'number', group: ENCLAVE, describe: 'sgx.isvsvn (0-65535)' })
    .option('debug', { type: 'boolean', group: ENCLAVE, describe: 'build a DEBUG enclave: its memory can be read by the host; never for production' })
    .option('remote-attestation', { type: 'string', choices: ['dcap', 'none'], group: ENCLAVE, describe: 'sgx.remote_attestation', defaultDescription: 'dcap' })
    .option('log-level', { type: 'string', choices: ['none', 'error', 'warning', 'debug', 'trace', 'all'], group: ENCLAVE, describe: 'loader.log_level' })
    .option('insecure-args', { type: 'boolean', group: ENCLAVE, describe: 'take argv from the host at run time instead of the trusted argv file' })
    .option('allow-untrusted-code', { type: 'boolean', group: ENCLAVE, describe: 'accept allowed files (policy or --manifest) that cover the entrypoint, a library or an executable: code Gramine does not check; labelled org.cconv.sgx.untrusted-code=true' })
    .option('cpu-feature', { type: 'string', array: true, group: ENCLAVE, describe: 'sgx.cpu_features entry NAME=VALUE (e.g. avx512=required)' })
    .option('key-provisioning', {
      choices: ['none', 'gramine-secret-prov'] as const,
      default: 'none' as const,
      group: KEY_RELEASE,
      describe: 'gramine-secret-prov: the enclave gets its data key over RA-TLS from a Gramine secret-provisioning server at start (settings measured into the manifest)',
    })
    .option('secret-prov-ca', { type: 'string', group: KEY_RELEASE, describe: 'in-image path of the CA chain (PEM) that verifies the provisioning server (a trusted file; required with gramine-secret-prov)' })
    .option('secret-prov-server', { type: 'string', array: true, group: KEY_RELEASE, describe: 'HOST:PORT of a provisioning server (repeatable; default Gramine\'s localhost:4433)' });
}

/** Settings given on the command line (only the flags present), merged over the --config file. */
export async function settingsFrom(args: EnclaveArgs): Promise<Partial<GramineSettings>> {
  const flags: Record<string, unknown> = {};
  const put = (key: keyof GramineSettings, v: unknown) => {
    if (v !== undefined) flags[key] = v;
  };
  put('enclaveSize', args.enclaveSize);
  put('maxThreads', args.maxThreads);
  put('edmm', args.edmm);
  put('isvProdId', args.isvprodid);
  put('isvSvn', args.isvsvn);
  put('debug', args.debug);
  put('remoteAttestation', args.remoteAttestation);
  put('logLevel', args.logLevel);
  put('insecureArgs', args.insecureArgs);
  put('allowUntrustedCode', args.allowUntrustedCode);
  if (args.cpuFeature !== undefined) {
    const features: Record<string, string> = {};
    for (const item of args.cpuFeature) {
      const [name, value, extra] = item.split('=');
      if (!name || !value || extra !== undefined) throw new CconvError('E_USAGE', `--cpu-feature "${item}" is not NAME=VALUE`, { hint: 'e.g. --cpu-feature avx512=required' });
      features[name] = value;
    }
    flags.cpuFeatures = features;
  }
  const fromFlags = validateSettings(flags, 'command line');
  const fromFile = args.config !== undefined ? await loadGramineConfig(args.config) : undefined;
  return mergeSettings(fromFile, fromFlags);
}

/** The key provisioning asked for, or undefined for none; E_USAGE when gramine-secret-prov lacks its CA chain. */
export function keyProvisioningFrom(args: EnclaveArgs): SecretProvisioning | undefined {
  if (args.keyProvisioning !== 'gramine-secret-prov') {
    if (args.secretProvCa !== undefined || args.secretProvServer !== undefined) {
      throw new CconvError('E_USAGE', '--secret-prov-ca and --secret-prov-server need --key-provisioning gramine-secret-prov');
    }
    return undefined;
  }
  if (args.secretProvCa === undefined) {
    throw new CconvError('E_USAGE', '--key-provisioning gramine-secret-prov needs --secret-prov-ca PATH', {
      hint: "the in-image path of the PEM CA chain that signed the provisioning server's certificate",
    });
  }
  return { kind: 'gramine-secret-prov', caChainPath: args.secretProvCa, ...(args.secretProvServer !== undefined ? { servers: args.secretProvServer } : {}) };
}

/** The policy file (or the default) with the --trust/--allow/--encrypt/--exclude overrides appended. */
export async function policyFrom(args: EnclaveArgs): Promise<Policy> {
  const base = args.policy !== undefined ? await loadPolicy(args.policy) : await defaultPolicy();
  return policyWithOverrides(base, { trust: args.trust ?? [], allow: args.allow ?? [], encrypt: args.encrypt ?? [], exclude: args.exclude ?? [] });
}

/** The parsed --manifest fragment, if any. */
export async function fragmentFrom(args: EnclaveArgs): Promise<ManifestTable | undefined> {
  if (args.manifest === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(args.manifest, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading manifest fragment ${args.manifest}`);
  }
  return parseManifestToml(text) as ManifestTable;
}

/**
 * The Docker client of the command's environment (DOCKER_HOST etc. from `io.env`, not from
 * process.env, so an embedding caller or a test can point a command at another daemon); made only
 * when one of `refs` uses the daemon, so a malformed DOCKER_HOST does not fail other builds.
 */
export function daemonFrom(env: NodeJS.ProcessEnv, refs: readonly ImageReference[]): DaemonOptions {
  return refs.some((r) => r.transport === 'docker-daemon') ? { docker: connectDocker(dockerConnectionFromEnv(env)) } : {};
}

/** Opens an image reference with the --platform and --tmp-dir options. The caller closes it. */
export async function openImage(reference: string, args: Pick<EnclaveArgs, 'platform' | 'tmpDir'>, report: Reporter, sources: SourceOptions = {}): Promise<Image> {
  const options: { report: Reporter; platform?: ReturnType<typeof parsePlatform>; tmpDir?: string } = { report };
  if (args.platform !== undefined) options.platform = parsePlatform(args.platform);
  if (args.tmpDir !== undefined) options.tmpDir = args.tmpDir;
  return openSource(parseReference(reference), sources).open(options);
}

/**
 * Loads the runtime named by --runtime-dir or --runtime-image (flattened within the --max-* limits,
 * options/limits.ts). Returns it with a `close` that releases the runtime image (a no-op for a directory).
 */
export async function runtimeFrom(args: EnclaveArgs & LimitsArgs, report: Reporter, sources: SourceOptions = {}): Promise<{ runtime: GramineRuntime; close: () => Promise<void> }> {
  const options = { ...(args.gramineVersion === undefined ? {} : { version: args.gramineVersion }), limits: limitsFrom(args), report };
  if (args.runtimeDir !== undefined) return { runtime: await loadRuntimeDir(args.runtimeDir, options), close: async () => {} };
  if (args.runtimeImage === undefined) {
    throw new CconvError('E_USAGE', 'no Gramine runtime given', {
      hint: 'pass --runtime-image REF (an image with Gramine installed, e.g. a gramine base image) or --runtime-dir DIR',
    });
  }
  const image = await openImage(args.runtimeImage, { tmpDir: args.tmpDir }, report, sources);
  try {
    return { runtime: await loadRuntimeImage(image, options), close: () => image.close() };
  } catch (err) {
    await image.close();
    throw err;
  }
}

/**
 * The common body of `measure` and `sign`: reads settings, policy and fragment, opens the runtime
 * and the image (registry and daemon options from the command's environment), measures within the
 * --max-* limits, and hands the result to `fn`. Both images are closed on every path.
 */
export async function withMeasuredImage<T>(
  args: EnclaveArgs & LimitsArgs & RegistryArgs & { image: string },
  report: Reporter,
  io: CliIo,
  fn: (measured: MeasuredImage, image: Image, runtime: GramineRuntime) => Promise<T>,
): Promise<T> {
  const limits = limitsFrom(args);
  const [settings, policy, fragment] = await Promise.all([settingsFrom(args), policyFrom(args), fragmentFrom(args)]);
  const keyProvisioning = keyProvisioningFrom(args);
  const registry = await registryOptionsFrom(args, io);
  const refs = [parseReference(args.image), ...(args.runtimeImage !== undefined ? [parseReference(args.runtimeImage)] : [])];
  const sources = { registry, daemon: daemonFrom(io.env, refs) };
  const { runtime, close } = await runtimeFrom(args, report, sources);
  try {
    const image = await openImage(args.image, args, report, sources);
    try {
      const measured = await measureImage(image, { runtime, policy, settings, limits, report, ...(fragment ? { fragment } : {}), ...(keyProvisioning ? { keyProvisioning } : {}) });
      return await fn(measured, image, runtime);
    } finally {
      await image.close();
    }
  } finally {
    await close();
  }
}
