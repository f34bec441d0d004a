/**
 * x86-64 ELF64 little-endian executables and shared objects: read their dynamic-linking facts
 * (interpreter, DT_NEEDED, rpath/runpath, soname) and set a private interpreter and DT_RPATH.
 * Pure functions over whole-file buffers; no fs. Errors: E_ELF_INVALID.
 */
export { isElf64X86, readElfDynamic } from './read.ts';
export { patchElf } from './patch.ts';
export type { ElfDynamicInfo } from './types.ts';
/** The shared-library closure of an executable inside an image root, as its glibc ld.so finds it. */
export { DEFAULT_LIBRARY_DIRS, resolveElfClosure } from './closure.ts';
export type { ClosureObject, ClosureOptions, ElfClosure } from './closure.ts';
