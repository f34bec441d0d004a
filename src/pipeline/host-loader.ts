/**
 * Gramine's host loader in the output image. Real Gramine starts an enclave with
 * `PKGLIBDIR/sgx/loader PKGLIBDIR/sgx/libpal.so init APP ARGS...` (what the `gramine-sgx` bash
 * script execs). The loader is an ordinary dynamically linked program of the runtime image's
 * distribution (glibc, libprotobuf-c), so it cannot rely on the app image: a static or musl app
 * has no glibc, an old one has too old a glibc, a distroless one has no bash. So the output
 * carries the loader's whole ELF closure, resolved in the runtime image as its own ld.so would,
 * in a private directory (`PKGLIBDIR/sgx/host/`), and a copy of the loader whose PT_INTERP points
 * there and whose DT_RPATH is that directory (DT_RPATH: searched before LD_LIBRARY_PATH and for
 * the whole closure, so the container's environment cannot swap a library in). The loader is
 * patched, not wrapped in `ld.so --library-path`: it re-executes /proc/self/exe to start the
 * enclave's child processes, which a wrapper would break. None of this is measured: the host
 * loader is untrusted by design, so MRENCLAVE does not change.
 */
import { posix } from 'node:path';
import type { RuntimeAddedFile } from '../assemble/index.ts';
import { patchElf, resolveElfClosure, type ElfClosure } from '../elf/index.ts';
import { CconvError } from '../errors.ts';
import type { GramineConstants } from '../measure/index.ts';
import { ldSoConfDirs } from '../rootfs/index.ts';
import type { Rootfs } from '../rootfs/types.ts';

/** The loader's argv up to the app, and the files that make it start on any app image. */
export interface HostLoader {
  /** `[loader, libpal, "init"]`: the output's Entrypoint is this plus the app path. */
  argv: string[];
  /** The patched loader (at its own path), its interpreter and libraries under `dir`. */
  files: RuntimeAddedFile[];
  /** The private directory of the closure, absolute. */
  dir: string;
}

/** The private directory of the loader's closure, relative to PKGLIBDIR. */
export const HOST_DIR = 'sgx/host';

/** Absolute path of the closure directory for `constants`. */
export function hostDir(constants: GramineConstants): string {
  return `${constants.pkglibdir}/${HOST_DIR}`;
}

/** The argv up to the app path that starts an enclave with `constants`' layout. */
export function hostLoaderArgv(constants: GramineConstants): string[] {
  return [constants.hostLoaderPath, constants.libpalPath, 'init'];
}

function modeOf(rootfs: Rootfs, realPath: string): number {
  return rootfs.get(realPath.slice(1))?.mode ?? 0o755;
}

/** Describes what is missing from a closure, or undefined when it is complete. */
export function closureProblem(closure: ElfClosure | undefined, path: string): string | undefined {
  if (closure === undefined) return `there is no file at ${path}`;
  if (closure.executable.info.interpreter === undefined) return `${path} has no ELF interpreter (PT_INTERP)`;
  if (closure.missing.length > 0) return `${path} needs ${closure.missing.join(', ')}, which cannot be found`;
  return undefined;
}

/**
 * Plans the host loader of a runtime image: its closure resolved in `rootfs` (with the image's
 * ld.so.conf) and the patched copy. E_CONFIG when the loader or part of its closure is missing,
 * or the runtime image already uses the private directory; E_ELF_INVALID for a malformed ELF.
 */
export async function planHostLoader(rootfs: Rootfs, constants: GramineConstants): Promise<HostLoader> {
  const loaderPath = constants.hostLoaderPath;
  const dir = hostDir(constants);
  const closure = await resolveElfClosure(rootfs, loaderPath, { confDirs: await ldSoConfDirs(rootfs) });
  const problem = closureProblem(closure, loaderPath);
  if (problem !== undefined || closure === undefined || closure.interpreter === undefined) {
    throw new CconvError('E_CONFIG', `the runtime image's Gramine loader cannot start: ${problem ?? 'no interpreter'}`, {
      hint: 'use a complete Gramine runtime image (e.g. the official gramineproject/gramine image) or install the missing packages into it',
    });
  }
  if (rootfs.get(dir.slice(1)) !== undefined) {
    throw new CconvError('E_CONFIG', `the runtime image already has ${dir}, where cconv puts the loader's libraries`);
  }
  const interpreter = `${dir}/${posix.basename(closure.interpreter.path)}`;
  const files: RuntimeAddedFile[] = [
    { path: loaderPath, content: patchElf(closure.executable.content, { interpreter, rpath: dir }), mode: modeOf(rootfs, closure.executable.realPath) },
    { path: interpreter, content: closure.interpreter.content, mode: modeOf(rootfs, closure.interpreter.realPath) },
  ];
  for (const lib of closure.libraries) {
    const path = `${dir}/${posix.basename(lib.name)}`;
    if (files.some((f) => f.path === path)) continue;
    files.push({ path, content: lib.content, mode: modeOf(rootfs, lib.realPath) });
  }
  return { argv: hostLoaderArgv(constants), files, dir };
}
