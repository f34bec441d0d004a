/**
 * The shared-library closure of a dynamically linked executable inside an image root, found as
 * that image's own glibc `ld.so` would find it: the PT_INTERP interpreter, then every DT_NEEDED
 * name, breadth first, searched in DT_RPATH (of the object unless it has a DT_RUNPATH, then of
 * the executable), DT_RUNPATH, the ld.so.conf directories the caller gives, and glibc's default
 * directories; `$ORIGIN` is expanded; a candidate that is not an x86-64 ELF64 object is skipped,
 * as ld.so skips it. LD_LIBRARY_PATH is not used: it belongs to the process, not the image.
 * Everything is read from the image (symlinks followed inside it), never the host.
 */
import { posix } from 'node:path';
import { CconvError } from '../errors.ts';
import { readFiles } from '../rootfs/read-files.ts';
import type { Rootfs } from '../rootfs/types.ts';
import { isElf64X86, readElfDynamic } from './read.ts';
import type { ElfDynamicInfo } from './types.ts';

/** glibc's trusted directories on x86-64: Debian/Ubuntu multiarch first, then lib64 and plain lib. */
export const DEFAULT_LIBRARY_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'] as const;

/** Bounds against hostile images. */
const MAX_OBJECTS = 128;
const MAX_OBJECT_BYTES = 256 * 1024 * 1024;

/** One object of the closure. */
export interface ClosureObject {
  /** The name it was asked for (DT_NEEDED entry, or the interpreter's base name). */
  name: string;
  /** The absolute path ld.so would open (before symlinks are followed). */
  path: string;
  /** The real path of the file in the image (symlinks followed), absolute. */
  realPath: string;
  content: Buffer;
  info: ElfDynamicInfo;
}

/** The executable and what it loads. `missing` lists names that could not be found. */
export interface ElfClosure {
  executable: ClosureObject;
  interpreter?: ClosureObject;
  /** DT_NEEDED objects in load order (breadth first), each once. */
  libraries: ClosureObject[];
  missing: string[];
}

/** Options of `resolveElfClosure`. */
export interface ClosureOptions {
  /** Directories from the image's /etc/ld.so.conf, searched before the defaults. */
  confDirs?: readonly string[];
}

/** Reads the files at the given real paths (absolute) in one pass over the layers. */
async function readObjects(rootfs: Rootfs, realPaths: ReadonlySet<string>): Promise<Map<string, Buffer>> {
  for (const p of realPaths) {
    const size = rootfs.get(p.slice(1))?.size ?? 0;
    if (size > MAX_OBJECT_BYTES) throw new CconvError('E_ELF_INVALID', `${p} is ${size} bytes, too large for a shared object`);
  }
  const read = await readFiles(rootfs, [...realPaths].map((p) => p.slice(1)), MAX_OBJECT_BYTES);
  return new Map([...read].map(([path, bytes]) => [`/${path}`, bytes]));
}

/** The real path of the regular file at absolute `path` in the image, or undefined. */
function realFile(rootfs: Rootfs, path: string): string | undefined {
  const e = rootfs.resolve(path.slice(1));
  return e?.type === 'file' ? `/${e.path}` : undefined;
}

function expandOrigin(list: string | undefined, origin: string): string[] {
  if (list === undefined) return [];
  return list
    .split(':')
    .filter((d) => d !== '')
    .map((d) => d.replace(/\$\{ORIGIN\}|\$ORIGIN(?![A-Za-z0-9_])/g, origin))
    .filter((d) => d.startsWith('/') && !d.includes('$')); // $LIB / $PLATFORM: not used by distribution packages
}

/** Where ld.so looks for `name` needed by `by`, in order. */
function searchPaths(name: string, by: ClosureObject, exe: ClosureObject, confDirs: readonly string[]): string[] {
  if (name.includes('/')) return name.startsWith('/') ? [posix.normalize(name)] : [];
  const dirs: string[] = [];
  if (by.info.runpath === undefined) {
    dirs.push(...expandOrigin(by.info.rpath, posix.dirname(by.path)));
    if (by !== exe && exe.info.runpath === undefined) dirs.push(...expandOrigin(exe.info.rpath, posix.dirname(exe.path)));
  } else {
    dirs.push(...expandOrigin(by.info.runpath, posix.dirname(by.path)));
  }
  dirs.push(...confDirs, ...DEFAULT_LIBRARY_DIRS);
  return [...new Set(dirs)].map((d) => posix.join(d, name));
}

function objectOf(name: string, path: string, realPath: string, content: Buffer): ClosureObject {
  return { name, path, realPath, content, info: readElfDynamic(content) };
}

/**
 * Resolves the closure of the executable at absolute `path`; undefined when the image has no
 * regular file there. E_ELF_INVALID when the executable (or a library found for it) is a
 * malformed ELF; a name that cannot be found goes to `missing`.
 */
export async function resolveElfClosure(rootfs: Rootfs, path: string, options: ClosureOptions = {}): Promise<ElfClosure | undefined> {
  const confDirs = options.confDirs ?? [];
  const exeReal = realFile(rootfs, path);
  if (exeReal === undefined) return undefined;
  const exeBytes = (await readObjects(rootfs, new Set([exeReal]))).get(exeReal)!;
  const executable = objectOf(posix.basename(path), exeReal, exeReal, exeBytes);
  const closure: ElfClosure = { executable, libraries: [], missing: [] };
  const loaded = new Map<string, ClosureObject>(); // by the names ld.so matches: asked name and DT_SONAME
  const interp = executable.info.interpreter;
  if (interp !== undefined) {
    const real = realFile(rootfs, interp);
    const bytes = real === undefined ? undefined : (await readObjects(rootfs, new Set([real]))).get(real);
    if (real === undefined || bytes === undefined || !isElf64X86(bytes)) {
      closure.missing.push(interp);
    } else {
      closure.interpreter = objectOf(posix.basename(interp), interp, real, bytes);
      loaded.set(closure.interpreter.name, closure.interpreter);
      if (closure.interpreter.info.soname !== undefined) loaded.set(closure.interpreter.info.soname, closure.interpreter);
    }
  }
  // Breadth first: each round resolves the names the previous round's objects need.
  let pending: Array<{ name: string; by: ClosureObject; candidates: string[] }> = [];
  const enqueue = (by: ClosureObject): void => {
    for (const name of by.info.needed) {
      if (!closure.missing.includes(name)) pending.push({ name, by, candidates: searchPaths(name, by, executable, confDirs) });
    }
  };
  enqueue(executable);
  while (pending.length > 0) {
    const round: Array<{ name: string; by: ClosureObject; candidates: string[]; path?: string; real?: string; content?: Buffer }> = [];
    for (const p of pending) {
      if (!loaded.has(p.name) && !round.some((r) => r.name === p.name)) round.push({ ...p, candidates: [...p.candidates] });
    }
    // Each name's first candidate that exists and is an x86-64 ELF64 object; a candidate that is
    // not one is skipped, as ld.so skips it, and the next one is read in another pass.
    for (;;) {
      const want = new Set<string>();
      for (const r of round) {
        while (r.content === undefined && r.real === undefined && r.candidates.length > 0) {
          const candidate = r.candidates.shift()!;
          const real = realFile(rootfs, candidate);
          if (real !== undefined) Object.assign(r, { path: candidate, real });
        }
        if (r.real !== undefined && r.content === undefined) want.add(r.real);
      }
      if (want.size === 0) break;
      if (closure.libraries.length + want.size > MAX_OBJECTS) {
        throw new CconvError('E_ELF_INVALID', `${path} needs more than ${MAX_OBJECTS} shared objects`);
      }
      const bytes = await readObjects(rootfs, want);
      for (const r of round) {
        if (r.real === undefined || r.content !== undefined) continue;
        const content = bytes.get(r.real)!;
        if (isElf64X86(content)) r.content = content;
        else delete r.real;
      }
    }
    pending = [];
    for (const r of round) {
      if (r.content === undefined) {
        closure.missing.push(r.name);
        continue;
      }
      const obj = objectOf(r.name, r.path!, r.real!, r.content);
      closure.libraries.push(obj);
      loaded.set(r.name, obj);
      if (obj.info.soname !== undefined && !loaded.has(obj.info.soname)) loaded.set(obj.info.soname, obj);
      enqueue(obj);
    }
  }
  return closure;
}
