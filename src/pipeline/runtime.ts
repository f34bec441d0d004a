/**
 * The Gramine runtime a build measures against: the PAL (`sgx/libpal.so`, measured into
 * MRENCLAVE), the LibOS (`libsysdb.so`, its sha256 becomes `loader.entrypoint.sha256`) and the
 * runtime glibc (trusted files). It comes from a directory laid out as Gramine's PKGLIBDIR, or
 * from a runtime image that holds that directory (e.g. the official Gramine image).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CconvError, wrapIoError } from '../errors.ts';
import type { Image } from '../image/image.ts';
import { loadGramineConstants, type GramineConstants } from '../measure/index.ts';
import { silentReporter, type Reporter } from '../progress.ts';
import { flatten } from '../rootfs/index.ts';
import type { FlattenLimits, Rootfs } from '../rootfs/types.ts';
import { chooseGramineVersion, detectGramineVersion, GRAMINE_SGX_SCRIPT, type DetectedVersion } from './runtime-version.ts';

/** The largest libpal.so cconv reads (real ones are about 1-2 MiB). */
const MAX_LIBPAL_BYTES = 64 * 1024 * 1024;

/** One runtime file as the enclave sees it: in-image URI and content hash. */
export interface RuntimeTrustedFile {
  uri: string;
  sha256: string;
}

/** A Gramine runtime, read and hashed. */
export interface GramineRuntime {
  /** Gramine version whose layout constants apply (runtimes/gramine/<version>.json). */
  version: string;
  constants: GramineConstants;
  /** Where the runtime lives inside the output image (Gramine's PKGLIBDIR). */
  pkglibdir: string;
  libpal: Buffer;
  libosSha256: string;
  /** Files under `<pkglibdir>/runtime/glibc/`, sorted by URI. */
  trustedFiles: RuntimeTrustedFile[];
  /** Where it came from, for reports: a directory or an image digest. */
  source: string;
  /** The version the runtime image says it holds, when it says. */
  detectedVersion?: DetectedVersion;
  /** The runtime image and its flattened root, when it came from an image (the assembler reuses its layers). */
  image?: { image: Image; rootfs: Rootfs };
}

/** Options of the runtime loaders. */
export interface RuntimeOptions {
  /**
   * Gramine version whose layout constants apply. Default: for an image, the version the image
   * holds (runtime-version.ts; E_CONFIG when cconv has no constants for it); for a directory, 1.9.
   */
  version?: string;
  /** Bounds of flattening a runtime image (unset fields keep flatten's defaults); unused for a directory. */
  limits?: Partial<FlattenLimits>;
  report?: Reporter;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function missing(what: string, where: string): CconvError {
  return new CconvError('E_CONFIG', `the Gramine runtime at ${where} has no ${what}`, {
    hint: 'give a Gramine runtime image (--runtime-image) or a directory laid out as its PKGLIBDIR (--runtime-dir)',
  });
}

async function walkFiles(dir: string, rel = ''): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(join(dir, rel))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw wrapIoError(err, `reading ${join(dir, rel)}`);
  }
  const out: string[] = [];
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = await stat(join(dir, path));
    if (st.isDirectory()) out.push(...(await walkFiles(dir, path)));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/** Loads a runtime from a directory laid out as PKGLIBDIR (`libsysdb.so`, `sgx/libpal.so`, `runtime/glibc/`). */
export async function loadRuntimeDir(dir: string, options: RuntimeOptions = {}): Promise<GramineRuntime> {
  const constants = await loadGramineConstants(options.version ?? '1.9');
  const read = async (rel: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing(rel, dir);
      throw wrapIoError(err, `reading ${join(dir, rel)}`);
    }
  };
  const libpal = await read('sgx/libpal.so');
  const libosSha256 = sha256(await read('libsysdb.so'));
  const trustedFiles: RuntimeTrustedFile[] = [];
  for (const rel of await walkFiles(dir, 'runtime/glibc')) {
    trustedFiles.push({ uri: `file:${constants.pkglibdir}/${rel}`, sha256: sha256(await read(rel)) });
  }
  return { version: constants.version, constants, pkglibdir: constants.pkglibdir, libpal, libosSha256, trustedFiles, source: dir };
}

/**
 * Loads a runtime from an image holding Gramine at its PKGLIBDIR. Symlinks are resolved inside
 * the image; the image stays open (the caller closes it).
 */
export async function loadRuntimeImage(image: Image, options: RuntimeOptions = {}): Promise<GramineRuntime> {
  const report = options.report ?? silentReporter;
  const rootfs = await flatten(image, { hash: true, report, ...(options.limits ? { limits: options.limits } : {}) });
  const where = `runtime image ${image.manifestDigest}`;
  const detected = await detectGramineVersion(rootfs);
  const constants = await loadGramineConstants(await chooseGramineVersion(detected, options.version));
  if (detected === undefined) {
    report({ type: 'log', level: 'warn', message: `the runtime image does not say which Gramine it holds (no ${GRAMINE_SGX_SCRIPT} version line, no graminelibos package): assuming ${constants.version}` });
  } else if (detected.series !== constants.version) {
    report({ type: 'log', level: 'warn', message: `the runtime image holds Gramine ${detected.version}, measured with Gramine ${constants.version}'s layout as --gramine-version says` });
  }
  const base = constants.pkglibdir.slice(1);
  const fileAt = (rel: string) => {
    const e = rootfs.resolve(`${base}/${rel}`);
    if (e === undefined || e.type !== 'file' || e.sha256 === undefined) throw missing(rel, where);
    return e;
  };
  const libsysdb = fileAt('libsysdb.so');
  const libpal = await rootfs.readFile(fileAt('sgx/libpal.so').path, MAX_LIBPAL_BYTES);
  if (libpal === undefined) throw missing('sgx/libpal.so', where);
  const prefix = `${base}/runtime/glibc/`;
  const trustedFiles: RuntimeTrustedFile[] = [];
  for (const e of rootfs.entries()) {
    if (!e.path.startsWith(prefix) || (e.type !== 'file' && e.type !== 'symlink')) continue;
    const target = e.type === 'file' ? e : rootfs.resolve(e.path);
    if (target?.type !== 'file' || target.sha256 === undefined) continue;
    trustedFiles.push({ uri: `file:/${e.path}`, sha256: target.sha256 });
  }
  return {
    version: constants.version,
    constants,
    pkglibdir: constants.pkglibdir,
    libpal,
    libosSha256: libsysdb.sha256!,
    trustedFiles,
    source: where,
    ...(detected === undefined ? {} : { detectedVersion: detected }),
    image: { image, rootfs },
  };
}
