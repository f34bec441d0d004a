/**
 * `cconv build`: source image -> measured, signed, (partly) encrypted confidential image written to
 * a destination. Stages, in order: flatten + hash, policy, manifest, measure, sign, encrypt,
 * assemble, write, then key envelope and release policies. Nothing half-written stays behind:
 * temp files go on every path, and a destination is only committed after every blob is in. A
 * cancelled build (its signal aborted) stops at its next read or write (abortable.ts), cleans up
 * the same way and throws E_ABORTED.
 */
import { assembleImage, keptDescriptor, writeAssembled } from '../assemble/index.ts';
import type { EnclaveIdentity, Signer, SigstructDate } from '../enclave/index.ts';
import {
  generateDataKey,
  sealDataKey,
  withImageDigest,
  writeReleasePolicies,
  type KeyEnvelope,
  type ReleaseOptions,
  type SecretKey,
} from '../encrypt/index.ts';
import { CconvError } from '../errors.ts';
import { atomicWriteFile } from '../files.ts';
import type { Image, Layer } from '../image/image.ts';
import type { TrustedFile } from '../measure/index.ts';
import type { Digest } from '../image/types.ts';
import { defaultPolicy, encryptedPathTest, type Policy } from '../policy/index.ts';
import { asAbortError, silentReporter, throwIfAborted, withSignal, type Reporter } from '../progress.ts';
import type { FlattenLimits, Rootfs } from '../rootfs/types.ts';
import type { GramineSettings, ManifestTable } from '../runtimes/index.ts';
import type { ImageDestination } from '../transports/types.ts';
import { abortableDestination, abortableImage } from './abortable.ts';
import { EarlyBlobs } from './early-blobs.ts';
import type { SecretProvisioning } from './key-provisioning.ts';
import { encryptSelected, type EncryptedFiles } from './encrypt.ts';
import { planHostLoader, type HostLoader } from './host-loader.ts';
import { measureImage } from './measure.ts';
import type { GramineRuntime } from './runtime.ts';
import { signMeasured } from './sign.ts';

/** Where cconv puts its own files in the output image (the app is `${CCONV_DIR}/${APP_NAME}` to the loader). */
export const CCONV_DIR = '/cconv';
export const APP_NAME = 'app';

/** Inputs of `buildImage`. The caller opens (and closes) the source, runtime and destination. */
export interface BuildInput {
  source: Image;
  sourceRef: string;
  runtime: GramineRuntime;
  destination: ImageDestination;
  policy?: Policy;
  /** Bounds on the source image's tree (flatten's defaults when absent). */
  limits?: Partial<FlattenLimits>;
  settings?: Partial<GramineSettings>;
  fragment?: ManifestTable;
  signer: Signer;
  date: SigstructDate;
  /** Seconds since the epoch for every timestamp in the image (SOURCE_DATE_EPOCH, else 0). */
  epoch: number;
  /** The data key for encrypted files; a fresh one is generated when absent. */
  dataKey?: SecretKey;
  /** Seal the data key to this key broker (X25519 public key) and write the envelope to `envelopePath`. */
  broker?: { publicKey: Uint8Array; envelopePath: string };
  /** Provision the data key at run time with Gramine's secret provisioning (settings measured into the manifest). */
  keyProvisioning?: SecretProvisioning;
  /** Write release policies for the build's identity into this directory. */
  releasePolicies?: { dir: string } & ReleaseOptions;
  tmpDir?: string;
  report?: Reporter;
  /**
   * Cancels the build; default `report.signal` (the CLI aborts it on SIGINT, SIGTERM, SIGHUP). Up
   * to the destination's commit the build then stops, removes what it wrote and throws E_ABORTED;
   * once the image is committed, the key envelope and release policies are still written.
   */
  signal?: AbortSignal;
}

/** What a build produced (README.md, "cconv build --json"). */
export interface BuildOutput {
  digest: Digest;
  identity: EnclaveIdentity;
  /**
   * `droppedShadowed`: plaintexts of encrypted paths dropped from the app's layers that a later
   * layer deletes or replaces. `untrustedCode`: allowed entries that cover code Gramine does not
   * check (only with the allowUntrustedCode setting; the image is then labelled so).
   */
  files: { trusted: number; allowed: number; encrypted: number; excluded: number; droppedShadowed: number; untrustedCode: number };
  encryptedBytes: number;
  /** The trusted files as listed in the manifest (uri, sha256), in manifest order. */
  trustedFiles: TrustedFile[];
  /** In-image paths of the encrypted files, sorted. */
  encryptedPaths: string[];
  /** The exact .manifest.sgx (for --k8s and attestations). */
  manifestSgx: Buffer;
  layers: Array<{ digest: string; size: number; role: 'runtime' | 'source' | 'cconv'; kept: boolean }>;
  envelope?: KeyEnvelope;
  releasePolicyFiles?: string[];
  /** Milliseconds per stage. */
  timings: Record<string, number>;
}

/** Runs the whole pipeline for one image. See the module comment for the stages. */
export async function buildImage(given: BuildInput): Promise<BuildOutput> {
  const signal = given.signal ?? given.report?.signal;
  // Every stage reads the source or writes the destination: seen through the signal, they stop it.
  const input: BuildInput = signal === undefined ? given : {
    ...given,
    source: abortableImage(given.source, signal),
    destination: abortableDestination(given.destination, signal),
    report: given.report?.signal === signal ? given.report : withSignal(given.report ?? silentReporter, signal),
  };
  const report = input.report ?? silentReporter;
  const runtimeRoot = input.runtime.image?.rootfs;
  if (runtimeRoot === undefined) {
    throw new CconvError('E_USAGE', 'cconv build needs the runtime as an image', { hint: 'pass --runtime-image REF (a --runtime-dir is enough only for measure and sign)' });
  }
  // The host loader's closure first: a runtime image that cannot start any enclave fails the
  // build before the app image is read.
  const host = await planHostLoader(runtimeRoot, input.runtime.constants);
  throwIfAborted(signal);
  const policy = input.policy ?? (await defaultPolicy());
  // With nothing to encrypt, every source layer is kept as it is: copy each one to the
  // destination as soon as flatten has verified it (early-blobs.ts).
  const early = policy.rules.some((r) => r.type === 'encrypt') ? undefined : new EarlyBlobs(input.destination, report);
  const ctx: StageContext = { report, runtimeRoot, host, policy, early, writing: false };
  try {
    return await runStages(input, ctx);
  } catch (err) {
    if (early?.used && !ctx.writing) {
      await early.cancel(err);
      await input.destination.abort().catch(() => {}); // writeAssembled aborts on its own failures
    }
    throw signal?.aborted === true ? asAbortError(signal, err) : err;
  }
}

/** What buildImage settles before the stages run. */
interface StageContext {
  report: Reporter;
  runtimeRoot: Rootfs;
  host: HostLoader;
  policy: Policy;
  early: EarlyBlobs | undefined;
  /** Set once writeAssembled runs (it aborts the destination itself on failure). */
  writing: boolean;
}

async function runStages(input: BuildInput, ctx: StageContext): Promise<BuildOutput> {
  const { report, runtimeRoot, host, policy, early } = ctx;
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    throwIfAborted(report.signal); // no stage starts once the build is cancelled
    const start = performance.now();
    try {
      return await fn();
    } finally {
      timings[stage] = Math.round(performance.now() - start);
    }
  };
  const measured = await timed('measure', () =>
    measureImage(input.source, {
      runtime: input.runtime,
      report,
      policy,
      ...(input.limits ? { limits: input.limits } : {}),
      ...(input.keyProvisioning ? { keyProvisioning: input.keyProvisioning } : {}),
      ...(input.settings ? { settings: input.settings } : {}),
      ...(input.fragment ? { fragment: input.fragment } : {}),
      ...(early ? { onLayerRead: (layer: Layer) => early.put(keptDescriptor(layer.descriptor), () => layer.openStored(), layer.blobFile) } : {}),
    }),
  );
  const untrusted = measured.rendered.untrustedCode;
  for (const u of untrusted) {
    report({ type: 'log', level: 'warn', message: `untrusted code: sgx.allowed_files entry ${JSON.stringify(u.entry)} (${u.origin}) covers ${u.covers}; Gramine does not check it (--allow-untrusted-code)` });
  }
  const { sigstruct, identity } = await timed('sign', () => signMeasured(measured, { signer: input.signer, date: input.date }));
  const toEncrypt = measured.selection.encrypted;
  let key = input.dataKey;
  if (toEncrypt.length > 0 && key === undefined) {
    if (input.broker === undefined) {
      throw new CconvError('E_USAGE', `${toEncrypt.length} files are to be encrypted, but nothing would hold their key`, {
        hint: 'pass --broker-key PUB (a fresh key is sealed to the key broker) or --data-key FILE (a key you keep)',
      });
    }
    key = generateDataKey();
  }
  let encrypted: EncryptedFiles | undefined;
  try {
    if (toEncrypt.length > 0) {
      encrypted = await timed('encrypt', () => encryptSelected(measured.rootfs, toEncrypt, key!, { report, ...(input.tmpDir ? { tmpDir: input.tmpDir } : {}) }));
    }
    const manifestPath = `${CCONV_DIR}/${APP_NAME}.manifest.sgx`;
    const encrypts = encryptedPathTest(policy);
    const argv = measured.rendered.argvFile;
    const assembled = await timed('assemble', () =>
      assembleImage({
        source: input.source,
        sourceRootfs: measured.rootfs,
        sourceRef: input.sourceRef,
        runtime: { rootfs: runtimeRoot, paths: [input.runtime.pkglibdir], added: host.files },
        encrypted: encrypted?.files ?? [],
        ...(encrypts ? { encrypts } : {}),
        files: [
          { path: manifestPath, content: measured.manifestSgx, mode: 0o644 },
          { path: `${CCONV_DIR}/${APP_NAME}.sig`, content: sigstruct, mode: 0o644 },
          ...(argv ? [{ path: argv.path, content: argv.content, mode: 0o444 }] : []),
        ],
        createDirs: measured.rendered.createDirs,
        entrypoint: [...host.argv, `${CCONV_DIR}/${APP_NAME}`],
        cmd: measured.rendered.settings.insecureArgs ? measured.rendered.argv.slice(1) : null,
        identity,
        ...(untrusted.length > 0 ? { untrustedCode: true } : {}),
        runtimeInfo: { name: 'gramine', version: input.runtime.version },
        epoch: input.epoch,
        report,
        ...(input.tmpDir ? { tmpDir: input.tmpDir } : {}),
      }),
    );
    if (assembled.droppedShadowed > 0) {
      report({ type: 'log', level: 'info', message: `dropped ${assembled.droppedShadowed} deleted or replaced plaintext versions of encrypted paths from the app's layers` });
    }
    try {
      const digest = await timed('write', async () => {
        await early?.settle(); // a failure here is the outer catch's to clean up
        ctx.writing = true;
        return writeAssembled(assembled, input.destination, { report });
      });
      const out: BuildOutput = {
        digest,
        identity,
        files: { trusted: measured.selection.trusted.length, allowed: measured.selection.allowed.length, encrypted: toEncrypt.length, excluded: measured.selection.excluded, droppedShadowed: assembled.droppedShadowed, untrustedCode: untrusted.length },
        encryptedBytes: encrypted?.bytes ?? 0,
        trustedFiles: measured.trustedFiles,
        encryptedPaths: toEncrypt.map((f) => f.path).sort(),
        manifestSgx: measured.manifestSgx,
        layers: assembled.layers.map((l) => ({ digest: l.descriptor.digest, size: l.descriptor.size, role: l.role, kept: l.kept })),
        timings,
      };
      if (key !== undefined && input.broker !== undefined) {
        const envelope = withImageDigest(sealDataKey(key, input.broker.publicKey, { keyName: measured.rendered.settings.encryptedKeyName, identity }), digest);
        await atomicWriteFile(input.broker.envelopePath, `${JSON.stringify(envelope, null, 2)}\n`, { mode: 0o644, overwrite: true });
        out.envelope = envelope;
      }
      if (input.releasePolicies !== undefined) {
        const { dir, ...options } = input.releasePolicies;
        out.releasePolicyFiles = (await writeReleasePolicies(dir, identity, { ...options, report })).files;
      }
      return out;
    } finally {
      await assembled.close();
    }
  } finally {
    await encrypted?.close();
  }
}
