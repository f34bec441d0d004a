/**
 * Sets the interpreter and the library search path of a dynamically linked x86-64 executable, like
 * `patchelf --set-interpreter I --force-rpath --set-rpath R`, by one general method that never moves
 * existing code or data: the file is padded to a page boundary and one new read-write PT_LOAD is
 * appended, holding a new program header table, the interpreter string, a copy of the dynamic
 * string table with the rpath added, and a new dynamic section. The old copies stay in place, unused.
 *
 * Why DT_RPATH and not DT_RUNPATH: glibc searches an executable's DT_RPATH before LD_LIBRARY_PATH
 * and for its whole dependency closure, while DT_RUNPATH comes after LD_LIBRARY_PATH and applies
 * only to the object's direct dependencies. The patched program is Gramine's host loader: it must
 * load only the private copies of its libraries, whatever LD_LIBRARY_PATH the container sets.
 */
import { parseElf } from './read.ts';
import {
  DT_RPATH, DT_RUNPATH, DT_STRSZ, DT_STRTAB, DYN_SIZE, LIMIT, MAX_INTERP, PAGE, PF_R, PF_W, PHDR_SIZE, PT_DYNAMIC, PT_INTERP, PT_LOAD,
  PT_PHDR, SHDR_SIZE, unpatchable,
} from './types.ts';
import type { DynamicEntry, ElfImage, Extent } from './types.ts';

const MAX_RPATH = 65536;
/** The most zero bytes added to reach the new segment's offset (a PIE with a huge .bss needs many). */
const MAX_PADDING = 64 * 1024 * 1024;
const SHT_STRTAB = 3;
const SHT_DYNAMIC = 6;
const SHF_ALLOC = 2n;

/** Where the parts of the new segment go: offsets in the file; vaddr = offset + bias. */
interface Plan {
  offset: number;
  bias: number;
  phdrs: Extent;
  interp: Extent;
  strtab: Extent;
  dynamic: Extent;
  size: number;
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** `s` with its NUL, as UTF-8; E_ELF_INVALID when empty, holding a NUL, or `max` bytes or more. */
function encode(s: string, what: string, max: number): Buffer {
  const b = Buffer.from(`${s}\0`, 'utf8');
  if (s === '' || s.includes('\0') || b.length > max) throw unpatchable(`the ${what} must be 1 to ${max - 1} bytes without NUL`);
  return b;
}

/**
 * Places the new segment: its file offset page-aligned at or after the end of the file, its vaddr
 * above every PT_LOAD, and vaddr - offset equal to that of the first PT_LOAD (0 for PIE), so both
 * the kernel's and glibc's ways of finding the program headers in memory agree.
 */
function plan(image: ElfImage, interpLen: number, strtabLen: number, dynCount: number): Plan {
  const loads = image.phdrs.filter((p) => p.type === PT_LOAD);
  const first = loads[0];
  if (!first) throw unpatchable('it has no PT_LOAD segment');
  loads.forEach((p, i) => {
    if (i > 0 && p.vaddr < loads[i - 1]!.vaddr) throw unpatchable('its PT_LOAD segments are not sorted by address');
  });
  const bias = first.vaddr - first.offset;
  if (bias % PAGE !== 0) throw unpatchable('its first PT_LOAD has p_vaddr and p_offset in different page positions');
  const end = Math.max(...loads.map((p) => p.vaddr + p.memsz));
  const offset = alignUp(Math.max(image.bytes.length, end - bias), PAGE);
  if (offset - image.bytes.length > MAX_PADDING) throw unpatchable(`the new segment would need ${offset - image.bytes.length} bytes of padding`);
  const at = (start: number, size: number): Extent => ({ offset: offset + start, vaddr: offset + start + bias, size });
  const phdrs = at(0, (image.phdrs.length + 1) * PHDR_SIZE);
  const interp = at(phdrs.size, interpLen);
  const strtab = at(phdrs.size + interpLen, strtabLen);
  const dynamic = at(alignUp(phdrs.size + interpLen + strtabLen, 8), dynCount * DYN_SIZE);
  const size = dynamic.offset + dynamic.size - offset;
  if (offset + bias + size > LIMIT) throw unpatchable('the new segment would lie outside the address space');
  return { offset, bias, phdrs, interp, strtab, dynamic, size };
}

/** Writes p_offset, p_vaddr, p_paddr, p_filesz, p_memsz of the program header at `at`. */
function setSegment(out: Buffer, at: number, e: Extent): void {
  out.writeBigUInt64LE(BigInt(e.offset), at + 8);
  out.writeBigUInt64LE(BigInt(e.vaddr), at + 16);
  out.writeBigUInt64LE(BigInt(e.vaddr), at + 24);
  out.writeBigUInt64LE(BigInt(e.size), at + 32);
  out.writeBigUInt64LE(BigInt(e.size), at + 40);
}

/** Writes the new program header table: the old entries, the new PT_LOAD after the last PT_LOAD. */
function writeProgramHeaders(out: Buffer, image: ElfImage, p: Plan): void {
  const lastLoad = Math.max(...image.phdrs.filter((h) => h.type === PT_LOAD).map((h) => h.index));
  let at = p.phdrs.offset;
  for (const h of image.phdrs) {
    image.bytes.copy(out, at, image.phoff + h.index * PHDR_SIZE, image.phoff + (h.index + 1) * PHDR_SIZE);
    if (h.type === PT_PHDR) setSegment(out, at, p.phdrs);
    if (h.type === PT_INTERP) setSegment(out, at, p.interp);
    if (h.type === PT_DYNAMIC) setSegment(out, at, p.dynamic);
    at += PHDR_SIZE;
    if (h.index !== lastLoad) continue;
    out.writeUInt32LE(PT_LOAD, at);
    out.writeUInt32LE(PF_R | PF_W, at + 4); // writable: glibc stores r_debug in the DT_DEBUG entry
    setSegment(out, at, { offset: p.offset, vaddr: p.offset + p.bias, size: p.size });
    out.writeBigUInt64LE(BigInt(PAGE), at + 48);
    at += PHDR_SIZE;
  }
  out.writeBigUInt64LE(BigInt(p.phdrs.offset), 32); // e_phoff
  out.writeUInt16LE(image.phdrs.length + 1, 56); // e_phnum
}

/**
 * Points the section headers of .interp, .dynamic and .dynstr (found by type, address and offset,
 * not by name) at their new copies. A file without section headers is fine; one whose table is
 * out of bounds or uses extended numbering is refused, as it could not be kept valid.
 */
function updateSections(out: Buffer, image: ElfImage, p: Plan): void {
  const shoff = out.readBigUInt64LE(40);
  const shnum = out.readUInt16LE(60);
  if (shoff === 0n && shnum === 0) return;
  if (shnum === 0 || out.readUInt16LE(58) !== SHDR_SIZE) throw unpatchable('its section header table uses extended numbering or an unknown entry size');
  if (shoff + BigInt(shnum * SHDR_SIZE) > BigInt(image.bytes.length)) throw unpatchable('its section header table extends beyond the end of the file');
  const moves: Array<{ type?: number; from: Extent; to: Extent }> = [
    { from: image.interp!, to: p.interp },
    { type: SHT_DYNAMIC, from: image.dynamic!, to: p.dynamic },
    { type: SHT_STRTAB, from: image.strtab!, to: p.strtab },
  ];
  for (let at = Number(shoff); at < Number(shoff) + shnum * SHDR_SIZE; at += SHDR_SIZE) {
    const type = out.readUInt32LE(at + 4);
    if ((out.readBigUInt64LE(at + 8) & SHF_ALLOC) === 0n || out.readBigUInt64LE(at + 32) === 0n) continue;
    const addr = out.readBigUInt64LE(at + 16);
    const offset = out.readBigUInt64LE(at + 24);
    const move = moves.find((m) => (m.type ?? type) === type && BigInt(m.from.vaddr) === addr && BigInt(m.from.offset) === offset);
    if (!move) continue;
    out.writeBigUInt64LE(BigInt(move.to.vaddr), at + 16);
    out.writeBigUInt64LE(BigInt(move.to.offset), at + 24);
    out.writeBigUInt64LE(BigInt(move.to.size), at + 32);
  }
}

/** The new dynamic entries: the old ones without DT_RPATH/DT_RUNPATH, DT_STRTAB/DT_STRSZ moved, one DT_RPATH. */
function newEntries(old: DynamicEntry[], strtab: Extent, rpathAt: number): DynamicEntry[] {
  const entries = old
    .filter((e) => e.tag !== DT_RPATH && e.tag !== DT_RUNPATH)
    .map((e) => (e.tag === DT_STRTAB ? { tag: e.tag, val: BigInt(strtab.vaddr) } : e.tag === DT_STRSZ ? { tag: e.tag, val: BigInt(strtab.size) } : e));
  entries.push({ tag: DT_RPATH, val: BigInt(rpathAt) });
  return entries;
}

/**
 * Returns a new buffer: `bytes` with PT_INTERP set to `interpreter` and DT_RPATH set to `rpath`
 * (any existing DT_RUNPATH/DT_RPATH replaced by that single DT_RPATH), like
 * `patchelf --set-interpreter I --force-rpath --set-rpath R`. Deterministic: same input, same output.
 * Each call appends one more segment, so patching a patched file works (and grows it by a page or so).
 * E_ELF_INVALID when the file has no PT_INTERP or no PT_DYNAMIC, or cannot be patched safely.
 */
export function patchElf(bytes: Buffer, edit: { interpreter: string; rpath: string }): Buffer {
  const image = parseElf(bytes);
  if (!image.interp) throw unpatchable('it has no PT_INTERP (a static executable or a shared library)');
  if (!image.dynamic || !image.strtab) throw unpatchable('it has no PT_DYNAMIC (a static executable)');
  const interp = encode(edit.interpreter, 'interpreter', MAX_INTERP);
  const rpath = encode(edit.rpath, 'rpath', MAX_RPATH);
  const oldStrtab = image.strtab;
  const dynCount = image.dynamic.entries.filter((e) => e.tag !== DT_RPATH && e.tag !== DT_RUNPATH).length + 2; // + DT_RPATH, DT_NULL
  const p = plan(image, interp.length, oldStrtab.size + rpath.length, dynCount);
  const out = Buffer.alloc(p.offset + p.size);
  bytes.copy(out);
  writeProgramHeaders(out, image, p);
  interp.copy(out, p.interp.offset);
  bytes.copy(out, p.strtab.offset, oldStrtab.offset, oldStrtab.offset + oldStrtab.size);
  rpath.copy(out, p.strtab.offset + oldStrtab.size);
  let at = p.dynamic.offset;
  for (const e of newEntries(image.dynamic.entries, p.strtab, oldStrtab.size)) {
    out.writeBigInt64LE(BigInt(e.tag), at);
    out.writeBigUInt64LE(e.val, at + 8);
    at += DYN_SIZE;
  } // the DT_NULL that ends the table is already zero
  updateSections(out, image, p);
  return out;
}
