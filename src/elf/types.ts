/**
 * Types and constants of the ELF reader and patcher. Only x86-64 ELF64 little-endian files are
 * understood; every number below is from the System V gABI and its x86-64 supplement.
 */
import { CconvError } from '../errors.ts';

/** Dynamic-linking facts of an x86-64 ELF64 little-endian executable or shared object. */
export interface ElfDynamicInfo {
  /** ET_EXEC or ET_DYN (PIE executables and shared objects are 'dyn'). */
  type: 'exec' | 'dyn';
  /** PT_INTERP string (without the NUL), absent for static / shared libs. */
  interpreter?: string;
  /** DT_NEEDED in order. */
  needed: string[];
  /** DT_RPATH. */
  rpath?: string;
  /** DT_RUNPATH. */
  runpath?: string;
  /** DT_SONAME. */
  soname?: string;
}

/** One program header (offsets, addresses and sizes in bytes). `index` is its slot in the table. */
export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

/** Where a byte range lies in the file and in memory. */
export interface Extent {
  offset: number;
  vaddr: number;
  size: number;
}

/**
 * A parsed file: header fields the patcher rewrites, the program headers in table order, and the
 * dynamic section (entries up to, not including, DT_NULL; `val` unconverted, as it may be any u64).
 */
export interface ElfImage {
  bytes: Buffer;
  type: 'exec' | 'dyn';
  phoff: number;
  phdrs: ProgramHeader[];
  /** Absent when there is no PT_INTERP; `size` counts the NUL. */
  interp?: Extent & { value: string };
  /** Absent when there is no PT_DYNAMIC (a static executable); then `strtab` is absent too. */
  dynamic?: Extent & { entries: DynamicEntry[] };
  strtab?: Extent;
}

/** One Elf64_Dyn; `tag` is a safe integer (the reader refuses others). */
export interface DynamicEntry {
  tag: number;
  val: bigint;
}

export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;
export const DYN_SIZE = 16;
export const PAGE = 0x1000;
/** Highest address or offset accepted: the x86-64 user address space is 47 bits. */
export const LIMIT = 2 ** 47;
/** Longest PT_INTERP, with its NUL: the kernel refuses one above PATH_MAX. */
export const MAX_INTERP = 4096;

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PF_W = 2;
export const PF_R = 4;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_STRTAB = 5;
export const DT_STRSZ = 10;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_RUNPATH = 29;

/** E_ELF_INVALID for a file that is malformed or not x86-64 ELF64 LE. */
export function invalid(why: string): CconvError {
  return new CconvError('E_ELF_INVALID', `not a valid x86-64 ELF64 little-endian file: ${why}`);
}

/** E_ELF_INVALID for a well-formed file that patchElf cannot (or will not) patch. */
export function unpatchable(why: string): CconvError {
  return new CconvError('E_ELF_INVALID', `cannot patch this ELF file: ${why}`);
}
