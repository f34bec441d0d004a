/**
 * src/elf reading real binaries that gcc builds at test time (a shared library with a soname, PIE
 * and non-PIE programs linked against it, DT_RPATH and DT_RUNPATH variants, static programs), and
 * refusing malformed input: random bytes, truncations, a 32-bit header, and 200 corruptions of a
 * real PIE, each of which must parse or be E_ELF_INVALID, never another error. Needs gcc and
 * libc6-dev (libc.a for the static programs).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isElf64X86, patchElf, readElfDynamic } from '../../src/elf/index.ts';
import { CconvError } from '../../src/errors.ts';
import { xorshiftBytes } from '../helpers/oci-builder.ts';

const LD_SO = '/lib64/ld-linux-x86-64.so.2';
let work: string;
/** The built files' bytes, by output name. */
const built = new Map<string, Buffer>();

/** Compiles with gcc in the work dir; `out` is the output file name. */
function gcc(out: string, args: string[]): void {
  execFileSync('gcc', ['-o', out, ...args], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  built.set(out, readFileSync(join(work, out)));
}
const file = (name: string): Buffer => built.get(name)!;

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-elf-read-'));
  writeFileSync(join(work, 'libdemo.c'), '#include <stdio.h>\nvoid demo_hello(void) { puts("hello"); }\n');
  writeFileSync(join(work, 'demo.c'), 'void demo_hello(void);\nint main(void) { demo_hello(); return 0; }\n');
  writeFileSync(join(work, 'static.c'), 'int main(void) { return 0; }\n');
  gcc('libdemo.so.1', ['-shared', '-fPIC', '-Wl,-soname,libdemo.so.1', 'libdemo.c']);
  const link = ['demo.c', '-L.', '-l:libdemo.so.1'];
  gcc('demo', ['-pie', '-fPIE', ...link]);
  gcc('demo-nopie', ['-no-pie', ...link]);
  gcc('demo-rpath', [...link, '-Wl,-rpath,/opt/one:/opt/two,--disable-new-dtags']);
  gcc('demo-runpath', [...link, '-Wl,-rpath,/opt/one:/opt/two,--enable-new-dtags']);
  gcc('static', ['-static', 'static.c']);
  gcc('static-pie', ['-static-pie', 'static.c']);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('a PIE gives its interpreter and DT_NEEDED in link order, and no search path', (t) => {
  t.deepEqual(readElfDynamic(file('demo')), { type: 'dyn', interpreter: LD_SO, needed: ['libdemo.so.1', 'libc.so.6'] });
});

test('a non-PIE program is exec', (t) => {
  t.deepEqual(readElfDynamic(file('demo-nopie')), { type: 'exec', interpreter: LD_SO, needed: ['libdemo.so.1', 'libc.so.6'] });
});

test('a shared library gives its soname and no interpreter', (t) => {
  t.deepEqual(readElfDynamic(file('libdemo.so.1')), { type: 'dyn', needed: ['libc.so.6'], soname: 'libdemo.so.1' });
});

test('-rpath with --disable-new-dtags gives DT_RPATH, with --enable-new-dtags DT_RUNPATH', (t) => {
  const base = { type: 'dyn', interpreter: LD_SO, needed: ['libdemo.so.1', 'libc.so.6'] };
  t.deepEqual(readElfDynamic(file('demo-rpath')), { ...base, rpath: '/opt/one:/opt/two' });
  t.deepEqual(readElfDynamic(file('demo-runpath')), { ...base, runpath: '/opt/one:/opt/two' });
});

test('static programs have no interpreter and no DT_NEEDED; a static PIE still has a dynamic section', (t) => {
  t.deepEqual(readElfDynamic(file('static')), { type: 'exec', needed: [] });
  t.deepEqual(readElfDynamic(file('static-pie')), { type: 'dyn', needed: [] });
});

/** The first 20 bytes of the demo PIE with `bytes` written at `at`. */
function headWith(at: number, ...bytes: number[]): Buffer {
  const head = Buffer.from(file('demo').subarray(0, 20));
  head.set(bytes, at);
  return head;
}

test('isElf64X86 looks at the first 20 bytes only: magic, class, byte order, machine', (t) => {
  t.true(isElf64X86(file('demo').subarray(0, 20)));
  t.true(isElf64X86(file('libdemo.so.1')));
  t.false(isElf64X86(file('demo').subarray(0, 19)));
  t.false(isElf64X86(headWith(0, 0x7f, 0x45, 0x4c, 0x47)));
  t.false(isElf64X86(headWith(4, 1)), 'ELFCLASS32');
  t.false(isElf64X86(headWith(5, 2)), 'big-endian');
  t.false(isElf64X86(headWith(18, 183, 0)), 'aarch64');
  t.false(isElf64X86(Buffer.from('#!/bin/sh\necho not an ELF file\n')));
});

test('random bytes, a truncated program header table, a 32-bit header and a relocatable object are E_ELF_INVALID', (t) => {
  const demo = file('demo');
  const phoff = Number(demo.readBigUInt64LE(32));
  const bad = {
    random: xorshiftBytes(4096, 0x2545f491, 0xff),
    empty: Buffer.alloc(0),
    'cut in the program headers': demo.subarray(0, phoff + 56 * 3 + 10),
    'cut in the ELF header': demo.subarray(0, 40),
    '32-bit header': Buffer.concat([demo.subarray(0, 4), Buffer.from([1]), demo.subarray(5)]),
    'ET_REL': Buffer.concat([demo.subarray(0, 16), Buffer.from([1, 0]), demo.subarray(18)]),
  };
  for (const [what, bytes] of Object.entries(bad)) {
    t.throws(() => readElfDynamic(bytes), { instanceOf: CconvError, code: 'E_ELF_INVALID' }, what);
    t.throws(() => patchElf(bytes, { interpreter: LD_SO, rpath: '/opt' }), { instanceOf: CconvError, code: 'E_ELF_INVALID' }, what);
  }
});

test('200 corruptions and truncations of a PIE either parse or are E_ELF_INVALID, for reading and patching', (t) => {
  const demo = file('demo');
  const phnum = demo.readUInt16LE(56);
  const phEnd = 64 + phnum * 56;
  let dyn = { offset: 0, size: 0 };
  for (let at = 64; at < phEnd; at += 56) {
    if (demo.readUInt32LE(at) === 2) dyn = { offset: Number(demo.readBigUInt64LE(at + 8)), size: Number(demo.readBigUInt64LE(at + 32)) };
  }
  t.true(dyn.size > 0);
  // Where a change is made: the headers, the dynamic section, the first page (.interp, .dynsym, .dynstr), anywhere.
  const regions = [[0, phEnd], [dyn.offset, dyn.offset + dyn.size], [0, 4096], [0, demo.length]] as const;
  const rand = xorshiftBytes(200 * 8, 0x9e3779b9, 0xff);
  const outcomes = { parsed: 0, refused: 0, patched: 0 };
  for (let i = 0; i < 200; i++) {
    const r = rand.readUInt32LE(i * 8);
    const [from, to] = regions[r % 4]!;
    const at = from + (rand.readUInt32LE(i * 8 + 4) % (to - from));
    let bytes: Buffer;
    if (i % 5 === 0) bytes = demo.subarray(0, at);
    else {
      bytes = Buffer.from(demo);
      bytes[at] = (r >>> 8) & 0xff;
    }
    for (const [op, fn] of [['read', () => readElfDynamic(bytes)], ['patch', () => patchElf(bytes, { interpreter: LD_SO, rpath: '/opt' })]] as const) {
      try {
        fn();
        outcomes[op === 'read' ? 'parsed' : 'patched']++;
      } catch (err) {
        if (!(err instanceof CconvError) || err.code !== 'E_ELF_INVALID') t.fail(`${op} of case ${i} (byte 0x${at.toString(16)}): ${String(err)}`);
        if (op === 'read') outcomes.refused++;
      }
    }
  }
  t.log(outcomes);
  t.true(outcomes.parsed > 20 && outcomes.refused > 20 && outcomes.patched > 20, JSON.stringify(outcomes));
});
