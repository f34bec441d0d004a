/**
 * Minimal ELF64 reader for the SGX PAL (libpal.so): the entry point and the PT_LOAD program
 * headers, in file order. Anything but a little-endian x86-64 ELF64 shared object is rejected
 * with E_ELF_INVALID.
 */
import { CconvError } from '../errors.ts';

/** One PT_LOAD segment (values in bytes; flags are PF_X=1, PF_W=2, PF_R=4). */
export interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  flags: number;
}

/** What the measurement needs from the PAL. */
export interface PalElf {
  entry: number;
  segments: LoadSegment[];
}

const PT_LOAD = 1;
const ET_DYN = 3;
const EM_X86_64 = 62;
const LIMIT = 2 ** 48;

function invalid(why: string): CconvError {
  return new CconvError('E_ELF_INVALID', `libpal is not a valid x86-64 ELF shared object: ${why}`);
}

function u64(buf: Buffer, off: number, what: string): number {
  const v = buf.readBigUInt64LE(off);
  if (v >= BigInt(LIMIT)) throw invalid(`${what} 0x${v.toString(16)} is out of range`);
  return Number(v);
}

/** Parses the ELF header and program headers of `buf` (the whole file). */
export function parsePalElf(buf: Buffer): PalElf {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw invalid('no ELF magic');
  if (buf[4] !== 2) throw invalid('not a 64-bit ELF');
  if (buf[5] !== 1) throw invalid('not little-endian');
  if (buf.readUInt16LE(16) !== ET_DYN) throw invalid('not a shared object (ET_DYN)');
  if (buf.readUInt16LE(18) !== EM_X86_64) throw invalid('not x86-64');
  const entry = u64(buf, 24, 'e_entry');
  const phoff = u64(buf, 32, 'e_phoff');
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phentsize < 56) throw invalid('bad e_phentsize');
  if (phoff + phnum * phentsize > buf.length) throw invalid('program headers beyond end of file');
  const segments: LoadSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (buf.readUInt32LE(p) !== PT_LOAD) continue;
    const seg: LoadSegment = {
      flags: buf.readUInt32LE(p + 4),
      offset: u64(buf, p + 8, 'p_offset'),
      vaddr: u64(buf, p + 16, 'p_vaddr'),
      filesz: u64(buf, p + 32, 'p_filesz'),
      memsz: u64(buf, p + 40, 'p_memsz'),
    };
    if (seg.offset + seg.filesz > buf.length) throw invalid(`segment ${i} extends beyond end of file`);
    if (seg.filesz > seg.memsz) throw invalid(`segment ${i} has p_filesz > p_memsz`);
    if (seg.vaddr + seg.memsz > LIMIT) throw invalid(`segment ${i} is out of range`);
    segments.push(seg);
  }
  if (segments.length === 0) throw invalid('no PT_LOAD segment');
  return { entry, segments };
}
