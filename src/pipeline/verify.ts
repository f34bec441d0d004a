/**
 * Verifies a confidential image from its own bytes, trusting nothing it says about itself: the
 * SIGSTRUCT's signature, MRENCLAVE recomputed from the image's `.manifest.sgx` and the PAL in its
 * runtime layer, the LibOS hash, every trusted file's hash, the identity labels, and that the
 * enclave can start: the Entrypoint is Gramine's loader command line, and the loader's ELF closure
 * (interpreter and libraries) is complete in the flattened image and comes from cconv's private
 * directory (host-loader.ts), with no dangling link in the runtime directory. Each check that
 * fails is E_VERIFY_MISMATCH naming what differs (the first differing file).
 */
import { LABELS } from '../assemble/index.ts';
import { enclaveIdentityOf, verifySigstruct, type EnclaveIdentity } from '../enclave/index.ts';
import { CconvError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { resolveElfClosure } from '../elf/index.ts';
import { computeMrenclave, isTable, loadGramineConstants, parseManifestToml, uriPath, type GramineConstants, type TomlTable } from '../measure/index.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import { flatten, ldSoConfDirs } from '../rootfs/index.ts';
import type { FlattenLimits, Rootfs } from '../rootfs/types.ts';
import { APP_NAME, CCONV_DIR } from './build.ts';
import { closureProblem, hostDir, hostLoaderArgv } from './host-loader.ts';

const MAX_SMALL_FILE = 64 * 1024 * 1024;

/** Options of `verifyConfidentialImage`. */
export interface VerifyImageOptions {
  /** Identity values the image must have (lowercase hex). */
  expect?: { mrenclave?: string; mrsigner?: string };
  /** Bounds of flattening the image (unset fields keep flatten's defaults). */
  limits?: Partial<FlattenLimits>;
  report?: Reporter;
}

/** What was verified. */
export interface VerifyImageResult {
  identity: EnclaveIdentity;
  runtimeVersion: string;
  trustedFiles: number;
}

function mismatch(message: string, hint?: string): CconvError {
  return new CconvError('E_VERIFY_MISMATCH', message, hint === undefined ? {} : { hint });
}

async function readImageFile(rootfs: Rootfs, path: string, what: string): Promise<Buffer> {
  const bytes = await rootfs.readFile(path.slice(1), MAX_SMALL_FILE);
  if (bytes === undefined) throw mismatch(`the image has no ${what} at ${path}`, 'is this an image made by cconv build?');
  return bytes;
}

/** Hash of the file at absolute `path` inside the image, following symlinks inside it. */
function imageFileSha256(rootfs: Rootfs, path: string): string | undefined {
  const e = rootfs.resolve(path.slice(1));
  return e?.type === 'file' ? e.sha256 : undefined;
}

/** Checks that the image's Entrypoint starts Gramine's loader and that the loader can run (module comment). */
async function checkStartable(image: Image, rootfs: Rootfs, constants: GramineConstants): Promise<void> {
  const entrypoint = image.config.config?.Entrypoint ?? [];
  const want = [...hostLoaderArgv(constants), `${CCONV_DIR}/${APP_NAME}`];
  if (entrypoint.length !== want.length || entrypoint.some((a, i) => a !== want[i])) {
    throw mismatch(`the image's Entrypoint is ${JSON.stringify(entrypoint)}; an enclave of Gramine ${constants.version} starts with ${JSON.stringify(want)}`, 'rebuild the image with this version of cconv');
  }
  const closure = await resolveElfClosure(rootfs, constants.hostLoaderPath, { confDirs: await ldSoConfDirs(rootfs) });
  const problem = closureProblem(closure, constants.hostLoaderPath);
  if (problem !== undefined) throw mismatch(`the enclave cannot start: ${problem}`, 'a layer above the runtime layer may have deleted or replaced it');
  const dir = hostDir(constants);
  for (const obj of [closure!.interpreter!, ...closure!.libraries]) {
    if (!obj.path.startsWith(`${dir}/`)) throw mismatch(`Gramine's loader would load ${obj.name} from ${obj.path}, not from ${dir}`);
  }
  const base = `${constants.pkglibdir.slice(1)}/`;
  for (const e of rootfs.entries()) {
    if (e.type === 'symlink' && e.path.startsWith(base) && rootfs.resolve(e.path) === undefined) {
      throw mismatch(`the runtime's /${e.path} is a dangling link (-> ${e.linkTarget ?? ''})`);
    }
  }
}

/** Verifies `image`; see the module comment. */
export async function verifyConfidentialImage(image: Image, options: VerifyImageOptions = {}): Promise<VerifyImageResult> {
  const report = options.report ?? silentReporter;
  const labels = image.config.config?.Labels ?? {};
  const version = labels[LABELS.runtimeVersion] ?? '1.9';
  const constants = await loadGramineConstants(version);
  const rootfs = await flatten(image, { hash: true, report, ...(options.limits ? { limits: options.limits } : {}) });
  return runTask(report, 'verify', 'Verifying the enclave', async () => {
    const manifestSgx = await readImageFile(rootfs, `${CCONV_DIR}/${APP_NAME}.manifest.sgx`, 'Gramine manifest');
    const sigstruct = await readImageFile(rootfs, `${CCONV_DIR}/${APP_NAME}.sig`, 'SIGSTRUCT');
    const identity = enclaveIdentityOf(verifySigstruct(sigstruct).fields);
    const libpal = await readImageFile(rootfs, constants.libpalPath, 'Gramine PAL');
    const measured = await computeMrenclave({ manifestSgx, libpal, constants });
    if (measured.mrenclave !== identity.mrenclave) {
      throw mismatch(`MRENCLAVE of the image's manifest and PAL is ${measured.mrenclave}, but its SIGSTRUCT signs ${identity.mrenclave}`);
    }
    await checkStartable(image, rootfs, constants);
    const manifest = parseManifestToml(manifestSgx.toString('utf8'));
    const loader = manifest.loader as TomlTable;
    const entry = isTable(loader?.entrypoint) ? loader.entrypoint : undefined;
    if (entry !== undefined && typeof entry.uri === 'string' && typeof entry.sha256 === 'string') {
      const actual = imageFileSha256(rootfs, uriPath(entry.uri));
      if (actual !== entry.sha256) throw mismatch(`the LibOS ${uriPath(entry.uri)} differs from loader.entrypoint.sha256 (${actual ?? 'missing'} != ${entry.sha256})`);
    }
    const trusted = ((manifest.sgx as TomlTable).trusted_files ?? []) as TomlTable[];
    for (const tf of trusted) {
      const path = uriPath(String(tf.uri));
      const actual = imageFileSha256(rootfs, path);
      if (actual !== tf.sha256) {
        throw mismatch(`trusted file ${path} ${actual === undefined ? 'is missing from the image' : `has sha256 ${actual}, the manifest expects ${String(tf.sha256)}`}`, 'the image was modified after it was signed');
      }
    }
    const labelled: Array<[string, string]> = [
      [LABELS.mrenclave, identity.mrenclave],
      [LABELS.mrsigner, identity.mrsigner],
      [LABELS.isvProdId, String(identity.isvProdId)],
      [LABELS.isvSvn, String(identity.isvSvn)],
      [LABELS.debug, String(identity.debug)],
    ];
    for (const [label, value] of labelled) {
      if (labels[label] !== undefined && labels[label] !== value) throw mismatch(`label ${label} says ${labels[label]}, the SIGSTRUCT says ${value}`);
    }
    for (const key of ['mrenclave', 'mrsigner'] as const) {
      const want = options.expect?.[key]?.toLowerCase();
      if (want !== undefined && want !== identity[key]) throw mismatch(`${key.toUpperCase()} is ${identity[key]}, expected ${want}`);
    }
    return { identity, runtimeVersion: constants.version, trustedFiles: trusted.length };
  });
}
