/**
 * The enclave memory layout exactly as Gramine's signer builds it (sgx_sign.py
 * `get_memory_areas`, `populate_memory_areas`, `gen_area_content`): from the top of the enclave
 * down, the manifest (bytes + NUL, padded to pages), SSA frames, TCS pages, TLS pages, one stack
 * and one signal stack per thread, then the PAL's PT_LOAD segments; without EDMM, the rest down to
 * MMAP_MIN_ADDR is "free" (added, not measured). Addresses are byte addresses, enclave base 0.
 */
import { CconvError } from '../errors.ts';
import type { GramineConstants } from './constants.ts';
import type { PalElf } from './elf.ts';
import type { SgxSettings } from './manifest.ts';

/** SECINFO flags of an EADD. */
export const PAGEINFO = { R: 0x1, W: 0x2, X: 0x4, TCS: 0x100, REG: 0x200 } as const;

/** Kind of a memory area, as the reference names them. */
export type AreaKind = 'manifest' | 'ssa' | 'tcs' | 'tls' | 'stack' | 'sig_stack' | 'pal' | 'free';

/** One PAL segment as loaded: page-aligned range, SECINFO flags, where its file bytes come from. */
export interface PalSegment {
  addr: number;
  size: number;
  flags: number;
  /** 'code' when executable, else 'data' (the reference's names). */
  desc: 'code' | 'data';
  /** Address the first file byte (`fileOffset`) is loaded at. */
  loadAddr: number;
  fileOffset: number;
  fileSize: number;
}

/** One memory area. `content` (manifest, tcs, tls) may be shorter than `size`: the rest is zeros, as are areas without content. */
export interface Area {
  desc: AreaKind;
  addr: number;
  size: number;
  flags: number;
  measured: boolean;
  content?: Buffer;
  /** For 'pal' only: its segments in program-header order. */
  segments?: PalSegment[];
}

/** The whole layout, in measurement order. */
export interface EnclaveLayout {
  enclaveSize: number;
  base: number;
  heapMin: number;
  heapMax: number;
  areas: Area[];
}

function layoutError(message: string): CconvError {
  return new CconvError('E_ENCLAVE_LAYOUT', message, { hint: 'increase sgx.enclave_size or lower sgx.max_threads' });
}

/** Computes the layout and the TCS/TLS contents. Throws E_ENCLAVE_LAYOUT when it does not fit. */
export function computeLayout(input: { manifestSgx: Buffer; settings: SgxSettings; pal: PalElf; constants: GramineConstants }): EnclaveLayout {
  const c = input.constants;
  const P = c.num('PAGESIZE');
  const up = (n: number): number => Math.ceil(n / P) * P;
  const down = (n: number): number => Math.floor(n / P) * P;
  const T = input.settings.maxThreads;
  const size = input.settings.enclaveSize;
  const base = c.num('DEFAULT_ENCLAVE_BASE');
  const heapMin = c.num('MMAP_MIN_ADDR');
  const RW = PAGEINFO.R | PAGEINFO.W | PAGEINFO.REG;
  const ssaPerThread = c.num('SSA_FRAME_SIZE') * c.num('SSA_FRAME_NUM');

  const manifestContent = Buffer.concat([input.manifestSgx, Buffer.alloc(1)]);
  type Pending = Omit<Area, 'addr'> & { addr: number | undefined };
  const mk = (desc: AreaKind, bytes: number, flags: number): Pending => ({ desc, addr: undefined, size: up(bytes), flags, measured: true });
  const areas: Pending[] = [
    { ...mk('manifest', manifestContent.length, PAGEINFO.R | PAGEINFO.REG), content: manifestContent },
    mk('ssa', T * ssaPerThread, RW),
    mk('tcs', T * c.num('TCS_SIZE'), PAGEINFO.TCS),
    mk('tls', T * P, RW),
  ];
  for (let t = 0; t < T; t++) areas.push(mk('stack', c.num('ENCLAVE_STACK_SIZE'), RW));
  for (let t = 0; t < T; t++) areas.push(mk('sig_stack', c.num('ENCLAVE_SIG_STACK_SIZE'), RW));
  let mapaddr = Infinity;
  let mapend = 0;
  for (const s of input.pal.segments) {
    mapaddr = Math.min(mapaddr, down(s.vaddr));
    mapend = Math.max(mapend, up(s.vaddr + s.memsz));
  }
  const pal: Pending = { ...mk('pal', mapend - mapaddr, PAGEINFO.REG), addr: mapaddr > 0 ? mapaddr : undefined };
  areas.push(pal);

  let last = base + size;
  for (const a of areas) {
    if (a.addr !== undefined) continue;
    a.addr = last - a.size;
    if (a.addr < heapMin) throw layoutError(`enclave size ${size} is not large enough for ${T} threads and the PAL`);
    last = a.addr;
  }
  const placed = areas as Area[];
  const heapMax = pal.addr as number;
  for (const a of placed) {
    if (a.addr + a.size > heapMin && a.addr < heapMax) throw layoutError(`memory area ${a.desc} is in the heap range`);
  }
  const find = (d: AreaKind): Area[] => placed.filter((a) => a.desc === d);
  const [ssa, tcs, tls] = [find('ssa')[0], find('tcs')[0], find('tls')[0]] as [Area, Area, Area];
  const stacks = find('stack');
  const sigStacks = find('sig_stack');
  const palArea = pal as Area;

  const tcsSize = c.num('TCS_SIZE');
  const tcsData = Buffer.alloc(tcs.size);
  const tlsData = Buffer.alloc(tls.size);
  const q = (buf: Buffer, at: number, v: number | bigint): void => {
    buf.writeBigUInt64LE(BigInt(v), at);
  };
  for (let t = 0; t < T; t++) {
    const ssaAddr = ssa.addr + ssaPerThread * t;
    const tc = t * tcsSize;
    q(tcsData, tc + c.num('TCS_OSSA'), ssaAddr - base);
    tcsData.writeUInt32LE(c.num('SSA_FRAME_NUM'), tc + c.num('TCS_NSSA'));
    q(tcsData, tc + c.num('TCS_OENTRY'), palArea.addr + input.pal.entry - base);
    q(tcsData, tc + c.num('TCS_OGS_BASE'), tls.addr - base + P * t);
    tcsData.writeUInt32LE(0xfff, tc + c.num('TCS_OFS_LIMIT'));
    tcsData.writeUInt32LE(0xfff, tc + c.num('TCS_OGS_LIMIT'));

    const tl = t * P;
    const stack = stacks[t] as Area;
    const sig = sigStacks[t] as Area;
    q(tlsData, tl + c.num('SGX_COMMON_SELF'), tls.addr + P * t);
    q(tlsData, tl + c.num('SGX_COMMON_STACK_PROTECTOR_CANARY'), c.big('STACK_PROTECTOR_CANARY_DEFAULT'));
    q(tlsData, tl + c.num('SGX_ENCLAVE_SIZE'), size);
    q(tlsData, tl + c.num('SGX_TCS_OFFSET'), tcs.addr - base + tcsSize * t);
    q(tlsData, tl + c.num('SGX_INITIAL_STACK_ADDR'), stack.addr + stack.size);
    q(tlsData, tl + c.num('SGX_SIG_STACK_LOW'), sig.addr);
    q(tlsData, tl + c.num('SGX_SIG_STACK_HIGH'), sig.addr + sig.size);
    q(tlsData, tl + c.num('SGX_SSA'), ssaAddr);
    q(tlsData, tl + c.num('SGX_GPR'), ssaAddr + c.num('SSA_FRAME_SIZE') - c.num('SGX_GPR_SIZE'));
    q(tlsData, tl + c.num('SGX_MANIFEST_SIZE'), manifestContent.length);
    q(tlsData, tl + c.num('SGX_HEAP_MIN'), heapMin);
    q(tlsData, tl + c.num('SGX_HEAP_MAX'), heapMax);
  }
  tcs.content = tcsData;
  tls.content = tlsData;

  const loadBase = palArea.addr - mapaddr;
  palArea.segments = input.pal.segments.map((s) => {
    let flags = PAGEINFO.REG;
    if (s.flags & 4) flags |= PAGEINFO.R;
    if (s.flags & 2) flags |= PAGEINFO.W;
    if (s.flags & 1) flags |= PAGEINFO.X;
    const addr = down(loadBase + s.vaddr);
    return {
      addr,
      size: up(loadBase + s.vaddr + s.memsz) - addr,
      flags,
      desc: flags & PAGEINFO.X ? 'code' : 'data',
      loadAddr: loadBase + s.vaddr,
      fileOffset: s.offset,
      fileSize: s.filesz,
    };
  });

  if (!input.settings.edmm) {
    const RWX = PAGEINFO.R | PAGEINFO.W | PAGEINFO.X | PAGEINFO.REG;
    const free: Area[] = [];
    for (const a of placed) {
      const end = a.addr + a.size;
      if (end < last) {
        free.push({ desc: 'free', addr: end, size: last - end, flags: RWX, measured: false });
        last = a.addr;
      }
    }
    if (last > heapMin) free.push({ desc: 'free', addr: heapMin, size: last - heapMin, flags: RWX, measured: false });
    placed.push(...free);
  }
  for (const a of placed) {
    if (a.addr - base + a.size > size || a.addr < base) throw layoutError(`memory area ${a.desc} lies outside the enclave`);
  }
  return { enclaveSize: size, base, heapMin, heapMax, areas: placed };
}
