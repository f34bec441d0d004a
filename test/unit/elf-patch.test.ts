/**
 * patchElf on real programs that gcc builds at test time: a PIE patched to a private copy of the
 * host's ld.so, libc and libdemo in a directory P (a path longer than the original interpreter)
 * runs with an empty environment and maps only P's libraries; its DT_RPATH beats LD_LIBRARY_PATH,
 * where a DT_RUNPATH would not; `readelf` reads the result without a warning; patching is
 * deterministic and can be repeated; a non-PIE program works too; files it cannot patch are
 * E_ELF_INVALID. Needs gcc, libc6-dev (libc.a), binutils' readelf.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { patchElf, readElfDynamic } from '../../src/elf/index.ts';

const HOST_LD_SO = '/lib64/ld-linux-x86-64.so.2';
const PRIVATE = 'libdemo: the private copy';
const OTHER = 'libdemo: the other copy';
let work: string;
/** The private runtime directory: ld.so, libc.so.6 and libdemo.so.1 copied here. */
let P: string;
/** A directory with another libdemo.so.1, named by LD_LIBRARY_PATH. */
let other: string;
let edit: { interpreter: string; rpath: string };

// The program says which libdemo it got, then lists the files mapped into it (from /proc/self/maps).
const DEMO_C = `#include <stdio.h>
#include <string.h>
void demo_hello(void);
int main(void) {
  demo_hello();
  char line[4096];
  FILE *maps = fopen("/proc/self/maps", "r");
  while (maps && fgets(line, sizeof line, maps)) { char *path = strchr(line, '/'); if (path) printf("mapped %s", path); }
  return 0;
}
`;

/** Runs gcc in the work dir. */
function gcc(args: string[]): void {
  execFileSync('gcc', args, { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Builds libdemo.so.1 printing `message` into `dir`. */
function libdemo(dir: string, message: string): void {
  writeFileSync(join(work, 'libdemo.c'), `#include <stdio.h>\nvoid demo_hello(void) { puts("${message}"); }\n`);
  gcc(['-shared', '-fPIC', '-Wl,-soname,libdemo.so.1', '-o', join(dir, 'libdemo.so.1'), 'libdemo.c']);
}

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-elf-patch-with-a-rather-long-directory-name-'));
  P = join(work, 'private-runtime');
  other = join(work, 'other');
  mkdirSync(P);
  mkdirSync(other);
  edit = { interpreter: join(P, 'ld-linux-x86-64.so.2'), rpath: P };
  libdemo(P, PRIVATE);
  libdemo(other, OTHER);
  copyFileSync(realpathSync(HOST_LD_SO), edit.interpreter);
  const libc = /libc\.so\.6 => (\S+)/.exec(execFileSync('ldd', ['/bin/sh'], { encoding: 'utf8' }))![1]!;
  copyFileSync(realpathSync(libc), join(P, 'libc.so.6'));
  writeFileSync(join(work, 'demo.c'), DEMO_C);
  const link = ['demo.c', `-L${P}`, '-l:libdemo.so.1'];
  gcc(['-pie', '-fPIE', '-o', 'demo', ...link]);
  gcc(['-no-pie', '-o', 'demo-nopie', ...link]);
  gcc(['-o', 'demo-runpath', ...link, `-Wl,-rpath,${P},--enable-new-dtags`]);
  writeFileSync(join(work, 'static.c'), 'int main(void) { return 0; }\n');
  gcc(['-static', '-o', 'static', 'static.c']);
  mkdirSync(join(work, 'bin'));
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const built = (name: string): Buffer => readFileSync(join(work, name));

/** Writes `bytes` as an executable named `name` and returns its path. */
function install(name: string, bytes: Buffer): string {
  const path = join(work, 'bin', name);
  writeFileSync(path, bytes);
  chmodSync(path, 0o755);
  return path;
}

/** Runs `path` with exactly `env`; its greeting, the files it mapped, and its exit. */
function run(path: string, env: Record<string, string> = {}) {
  const r = spawnSync(path, [], { env, encoding: 'utf8' });
  const lines = r.stdout.split('\n');
  const mapped = new Set(lines.filter((l) => l.startsWith('mapped ')).map((l) => l.slice('mapped '.length)));
  return { status: r.status, stderr: r.stderr, greeting: lines[0], mapped: [...mapped].filter((f) => f !== path).sort() };
}

const privateFiles = () => ['ld-linux-x86-64.so.2', 'libc.so.6', 'libdemo.so.1'].map((f) => join(P, f)).sort();

test('a patched PIE runs with an empty environment on the private ld.so, libc and libdemo only', (t) => {
  const patched = patchElf(built('demo'), edit);
  t.deepEqual(readElfDynamic(patched), { type: 'dyn', interpreter: edit.interpreter, needed: ['libdemo.so.1', 'libc.so.6'], rpath: P });
  t.deepEqual(run(install('demo', patched)), { status: 0, stderr: '', greeting: PRIVATE, mapped: privateFiles() });
});

test('the DT_RPATH wins over LD_LIBRARY_PATH, where the DT_RUNPATH it replaces does not', (t) => {
  const env = { LD_LIBRARY_PATH: other };
  t.is(run(install('runpath', built('demo-runpath')), env).greeting, OTHER, 'DT_RUNPATH comes after LD_LIBRARY_PATH');
  const patched = patchElf(built('demo-runpath'), edit);
  t.deepEqual(readElfDynamic(patched), { type: 'dyn', interpreter: edit.interpreter, needed: ['libdemo.so.1', 'libc.so.6'], rpath: P });
  t.deepEqual(run(install('runpath-patched', patched), env), { status: 0, stderr: '', greeting: PRIVATE, mapped: privateFiles() });
  t.is(run(install('demo', patchElf(built('demo'), edit)), env).greeting, PRIVATE);
});

test('readelf shows the new interpreter and (RPATH), and warns about nothing', (t) => {
  const path = install('demo', patchElf(built('demo'), edit));
  const shown = spawnSync('readelf', ['-l', '-d', '-W', path], { encoding: 'utf8' });
  t.is(shown.status, 0);
  t.is(shown.stderr, '');
  t.true(shown.stdout.includes(`[Requesting program interpreter: ${edit.interpreter}]`));
  t.regex(shown.stdout, new RegExp(`\\(RPATH\\) +Library rpath: \\[${P}\\]`));
  t.false(shown.stdout.includes('RUNPATH'));
  const all = spawnSync('readelf', ['-a', '-W', path], { encoding: 'utf8' });
  t.is(all.status, 0);
  t.is(all.stderr, '');
});

test('patching is deterministic, and a patched file can be patched again', (t) => {
  const once = patchElf(built('demo'), edit);
  t.true(once.equals(patchElf(built('demo'), edit)));
  const twice = patchElf(once, edit);
  t.deepEqual(readElfDynamic(twice), readElfDynamic(once));
  t.deepEqual(run(install('twice', twice)), { status: 0, stderr: '', greeting: PRIVATE, mapped: privateFiles() });
  t.is(spawnSync('readelf', ['-a', '-W', install('twice', twice)], { encoding: 'utf8' }).stderr, '');
});

test('a non-PIE program (ET_EXEC, loaded at 0x400000) is patched the same way', (t) => {
  const patched = patchElf(built('demo-nopie'), edit);
  t.is(readElfDynamic(patched).type, 'exec');
  t.deepEqual(run(install('nopie', patched), { LD_LIBRARY_PATH: other }), { status: 0, stderr: '', greeting: PRIVATE, mapped: privateFiles() });
});

test('a static program, a shared library and bad strings are E_ELF_INVALID', (t) => {
  t.throws(() => patchElf(built('static'), edit), { code: 'E_ELF_INVALID', message: /no PT_INTERP/ });
  t.throws(() => patchElf(readFileSync(join(P, 'libdemo.so.1')), edit), { code: 'E_ELF_INVALID', message: /no PT_INTERP/ });
  const demo = built('demo');
  t.throws(() => patchElf(demo, { ...edit, rpath: '' }), { code: 'E_ELF_INVALID' });
  t.throws(() => patchElf(demo, { ...edit, interpreter: 'a\0b' }), { code: 'E_ELF_INVALID' });
  t.throws(() => patchElf(demo, { ...edit, interpreter: `/${'x'.repeat(4095)}` }), { code: 'E_ELF_INVALID' });
});
