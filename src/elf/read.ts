/**
 * Reads the dynamic-linking facts of an x86-64 ELF64 little-endian executable or shared object from
 * its program headers alone (section headers are optional and ignored). Every offset, address and
 * size is bounds-checked before use: a malformed or hostile file gives E_ELF_INVALID, never a
 * RangeError.
 */
import {
  DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB, DYN_SIZE, EHDR_SIZE, EM_X86_64, ET_DYN, ET_EXEC,
  LIMIT, MAX_INTERP, PHDR_SIZE, PT_DYNAMIC, PT_INTERP, PT_LOAD, invalid,
} from './types.ts';
import type { DynamicEntry, ElfDynamicInfo, ElfImage, Extent, ProgramHeader } from './types.ts';

/** The kernel refuses a program header table above 64 KiB. */
const MAX_PHDR_TABLE = 65536;

/** Why `head` does not start an x86-64 ELF64 LE file, or undefined when it does. */
function notElf64X86(head: Buffer): string | undefined {
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return 'no ELF magic';
  if (head[4] !== 2) return 'not ELF64 (EI_CLASS is not ELFCLASS64)';
  if (head[5] !== 1) return 'not little-endian (EI_DATA is not ELFDATA2LSB)';
  if (head.readUInt16LE(18) !== EM_X86_64) return `e_machine ${head.readUInt16LE(18)} is not x86-64 (62)`;
  return undefined;
}

/** True when `head` (at least the first 20 bytes of a file) starts an x86-64 ELF64 LE file. */
export function isElf64X86(head: Buffer): boolean {
  return notElf64X86(head) === undefined;
}

/** The u64 at `off` as a number; E_ELF_INVALID at or above LIMIT. `off` must be in bounds. */
function u64(buf: Buffer, off: number, what: string): number {
  const v = buf.readBigUInt64LE(off);
  if (v >= BigInt(LIMIT)) throw invalid(`${what} 0x${v.toString(16)} is out of range`);
  return Number(v);
}

/** Throws unless [offset, offset + size) lies inside the file. */
function checkInFile(buf: Buffer, offset: number, size: number, what: string): void {
  if (offset + size > buf.length) throw invalid(`${what} (offset 0x${offset.toString(16)}, ${size} bytes) extends beyond the end of the file`);
}

/** The string at `start` ending at a NUL before `end` (exclusive); E_ELF_INVALID without one. */
function cString(buf: Buffer, start: number, end: number, what: string): string {
  const nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) throw invalid(`${what} is not NUL-terminated`);
  return buf.toString('utf8', start, nul);
}

/** The file offset of the `size` bytes at virtual address `vaddr`, which one PT_LOAD must hold in file bytes. */
function fileOffsetOf(phdrs: ProgramHeader[], vaddr: number, size: number, what: string): number {
  for (const p of phdrs) {
    if (p.type === PT_LOAD && vaddr >= p.vaddr && vaddr + size <= p.vaddr + p.filesz) return p.offset + (vaddr - p.vaddr);
  }
  throw invalid(`${what} at 0x${vaddr.toString(16)} (${size} bytes) is not in the file bytes of any PT_LOAD segment`);
}

function readProgramHeaders(buf: Buffer, phoff: number): ProgramHeader[] {
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phentsize !== PHDR_SIZE) throw invalid(`e_phentsize is ${phentsize}, not ${PHDR_SIZE}`);
  if (phnum === 0 || phnum * PHDR_SIZE > MAX_PHDR_TABLE) throw invalid(`e_phnum ${phnum} is out of range`);
  checkInFile(buf, phoff, phnum * PHDR_SIZE, 'the program header table');
  const phdrs: ProgramHeader[] = [];
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * PHDR_SIZE;
    const p: ProgramHeader = {
      index,
      type: buf.readUInt32LE(at),
      flags: buf.readUInt32LE(at + 4),
      offset: u64(buf, at + 8, `program header ${index} p_offset`),
      vaddr: u64(buf, at + 16, `program header ${index} p_vaddr`),
      filesz: u64(buf, at + 32, `program header ${index} p_filesz`),
      memsz: u64(buf, at + 40, `program header ${index} p_memsz`),
    };
    if (p.type === PT_LOAD || p.type === PT_INTERP || p.type === PT_DYNAMIC) checkInFile(buf, p.offset, p.filesz, `segment ${index}`);
    if (p.type === PT_LOAD && (p.filesz > p.memsz || p.vaddr + p.memsz > LIMIT)) throw invalid(`PT_LOAD ${index} has bad sizes`);
    phdrs.push(p);
  }
  return phdrs;
}

/** The one program header of `type`, or undefined; E_ELF_INVALID when there are several. */
function single(phdrs: ProgramHeader[], type: number, name: string): ProgramHeader | undefined {
  const found = phdrs.filter((p) => p.type === type);
  if (found.length > 1) throw invalid(`${found.length} ${name} program headers`);
  return found[0];
}

function readInterp(buf: Buffer, p: ProgramHeader): Extent & { value: string } {
  if (p.filesz < 2 || p.filesz > MAX_INTERP) throw invalid(`PT_INTERP size ${p.filesz} is out of range`);
  const value = cString(buf, p.offset, p.offset + p.filesz, 'the PT_INTERP string');
  if (value === '') throw invalid('the PT_INTERP string is empty');
  return { offset: p.offset, vaddr: p.vaddr, size: p.filesz, value };
}

/** The entries of PT_DYNAMIC before DT_NULL; E_ELF_INVALID when no DT_NULL ends them inside the segment. */
function readDynamicEntries(buf: Buffer, p: ProgramHeader): DynamicEntry[] {
  const entries: DynamicEntry[] = [];
  for (let at = p.offset; at + DYN_SIZE <= p.offset + p.filesz; at += DYN_SIZE) {
    const tag = Number(buf.readBigInt64LE(at));
    if (tag === DT_NULL) return entries;
    if (!Number.isSafeInteger(tag)) throw invalid(`dynamic tag ${buf.readBigInt64LE(at)} is out of range`);
    entries.push({ tag, val: buf.readBigUInt64LE(at + 8) });
  }
  throw invalid('the dynamic section has no DT_NULL entry');
}

/** The value of the last entry with `tag` (the one glibc's loader keeps), or undefined. */
export function lastValue(entries: DynamicEntry[], tag: number): bigint | undefined {
  let found: bigint | undefined;
  for (const e of entries) if (e.tag === tag) found = e.val;
  return found;
}

function locateStrtab(buf: Buffer, phdrs: ProgramHeader[], entries: DynamicEntry[]): Extent {
  const addr = lastValue(entries, DT_STRTAB);
  const size = lastValue(entries, DT_STRSZ);
  if (addr === undefined || size === undefined) throw invalid('the dynamic section has no DT_STRTAB or no DT_STRSZ');
  if (addr >= BigInt(LIMIT) || size > BigInt(buf.length)) throw invalid('DT_STRTAB or DT_STRSZ is out of range');
  const vaddr = Number(addr);
  return { offset: fileOffsetOf(phdrs, vaddr, Number(size), 'the dynamic string table'), vaddr, size: Number(size) };
}

/** Parses the ELF header, program headers, PT_INTERP, PT_DYNAMIC and the dynamic string table. */
export function parseElf(bytes: Buffer): ElfImage {
  const why = notElf64X86(bytes);
  if (why !== undefined) throw invalid(why);
  if (bytes.length < EHDR_SIZE) throw invalid('shorter than an ELF64 header');
  const etype = bytes.readUInt16LE(16);
  if (etype !== ET_EXEC && etype !== ET_DYN) throw invalid(`e_type ${etype} is neither ET_EXEC nor ET_DYN`);
  const phoff = u64(bytes, 32, 'e_phoff');
  const phdrs = readProgramHeaders(bytes, phoff);
  const image: ElfImage = { bytes, type: etype === ET_EXEC ? 'exec' : 'dyn', phoff, phdrs };
  const interp = single(phdrs, PT_INTERP, 'PT_INTERP');
  if (interp) image.interp = readInterp(bytes, interp);
  const dyn = single(phdrs, PT_DYNAMIC, 'PT_DYNAMIC');
  if (dyn) {
    const entries = readDynamicEntries(bytes, dyn);
    image.dynamic = { offset: dyn.offset, vaddr: dyn.vaddr, size: dyn.filesz, entries };
    image.strtab = locateStrtab(bytes, phdrs, entries);
  }
  return image;
}

/** The string at offset `val` of the dynamic string table. */
function dynString(image: ElfImage, val: bigint, what: string): string {
  const strtab = image.strtab!;
  if (val >= BigInt(strtab.size)) throw invalid(`${what} string offset ${val} is beyond DT_STRSZ ${strtab.size}`);
  return cString(image.bytes, strtab.offset + Number(val), strtab.offset + strtab.size, `the ${what} string`);
}

/**
 * Parses the whole file. E_ELF_INVALID on anything malformed or not x86-64 ELF64 LE, and when a
 * PT_DYNAMIC has no locatable string table. Where a tag repeats, the last entry wins, as in glibc.
 */
export function readElfDynamic(bytes: Buffer): ElfDynamicInfo {
  const image = parseElf(bytes);
  const info: ElfDynamicInfo = { type: image.type, needed: [] };
  if (image.interp) info.interpreter = image.interp.value;
  const entries = image.dynamic?.entries ?? [];
  for (const e of entries) if (e.tag === DT_NEEDED) info.needed.push(dynString(image, e.val, 'DT_NEEDED'));
  const named = [['rpath', DT_RPATH, 'DT_RPATH'], ['runpath', DT_RUNPATH, 'DT_RUNPATH'], ['soname', DT_SONAME, 'DT_SONAME']] as const;
  for (const [key, tag, what] of named) {
    const val = lastValue(entries, tag);
    if (val !== undefined) info[key] = dynString(image, val, what);
  }
  return info;
}
