/**
 * resolveElfClosure over an image root holding real ELF files that gcc builds at test time, laid
 * out like a merged-/usr distribution (/lib -> usr/lib, /lib64 -> usr/lib64): the interpreter
 * through two links, DT_RPATH of the executable, DT_RUNPATH with $ORIGIN in a library, an
 * ld.so.conf directory, a non-ELF candidate that ld.so would skip, and a name found nowhere.
 * Also ldSoConfDirs on its own (include globs, relative includes, separators, loops).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveElfClosure } from '../../src/elf/index.ts';
import { ldSoConfDirs } from '../../src/rootfs/index.ts';
import { dir, fakeRootfs, file, symlink, type FakeEntry } from '../helpers/fake-rootfs.ts';

let work: string;
const built = new Map<string, Buffer>();

function gcc(out: string, args: string[]): Buffer {
  execFileSync('gcc', ['-o', out, ...args], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const bytes = readFileSync(join(work, out));
  built.set(out, bytes);
  return bytes;
}

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-elf-closure-'));
  writeFileSync(join(work, 'bar.c'), 'int bar(void) { return 2; }\n');
  writeFileSync(join(work, 'foo.c'), 'int bar(void);\nint foo(void) { return bar() + 1; }\n');
  writeFileSync(join(work, 'conf.c'), 'int conf(void) { return 4; }\n');
  writeFileSync(join(work, 'app.c'), 'int foo(void); int conf(void);\nint main(void) { return foo() + conf(); }\n');
  gcc('libbar.so.2', ['-shared', '-fPIC', '-Wl,-soname,libbar.so.2', 'bar.c']);
  gcc('libfoo.so.1', ['-shared', '-fPIC', '-Wl,-soname,libfoo.so.1', 'foo.c', '-L.', '-l:libbar.so.2', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../private']);
  gcc('libconf.so.1', ['-shared', '-fPIC', '-Wl,-soname,libconf.so.1', 'conf.c']);
  gcc('app', ['-pie', '-fPIE', 'app.c', '-L.', '-l:libfoo.so.1', '-l:libconf.so.1', '-Wl,--disable-new-dtags,-rpath,/opt/app/lib', '-Wl,--allow-shlib-undefined']);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const host = (path: string): Buffer => readFileSync(realpathSync(path));

/** A merged-/usr root with the built objects and the host's ld.so and libc. */
function root(extra: FakeEntry[] = []) {
  return fakeRootfs([
    dir('usr/lib/x86_64-linux-gnu'),
    dir('usr/lib64'),
    symlink('lib', 'usr/lib'),
    symlink('lib64', 'usr/lib64'),
    symlink('usr/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
    file('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', host('/lib64/ld-linux-x86-64.so.2'), 0o755),
    file('usr/lib/x86_64-linux-gnu/libc.so.6', host('/lib/x86_64-linux-gnu/libc.so.6')),
    file('opt/app/bin/app', built.get('app')!, 0o755),
    file('opt/app/lib/libfoo.so.1', built.get('libfoo.so.1')!),
    file('opt/app/lib/libconf.so.1', 'not an ELF file: ld.so skips it\n'),
    file('opt/app/private/libbar.so.2', built.get('libbar.so.2')!),
    file('opt/conf/lib/libconf.so.1', built.get('libconf.so.1')!),
    file('etc/ld.so.conf', 'include /etc/ld.so.conf.d/*.conf\n'),
    file('etc/ld.so.conf.d/app.conf', '# the app\n/opt/conf/lib\n'),
    ...extra,
  ]);
}

test('the closure is found as ld.so finds it: RPATH, RUNPATH with $ORIGIN, ld.so.conf, defaults; links followed', async (t) => {
  const rootfs = root();
  const closure = await resolveElfClosure(rootfs, '/opt/app/bin/app', { confDirs: await ldSoConfDirs(rootfs) });
  t.truthy(closure);
  t.deepEqual(closure!.missing, []);
  t.is(closure!.interpreter!.path, '/lib64/ld-linux-x86-64.so.2');
  t.is(closure!.interpreter!.realPath, '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
  t.deepEqual(
    closure!.libraries.map((l) => [l.name, l.path, l.realPath]),
    [
      ['libfoo.so.1', '/opt/app/lib/libfoo.so.1', '/opt/app/lib/libfoo.so.1'],
      ['libconf.so.1', '/opt/conf/lib/libconf.so.1', '/opt/conf/lib/libconf.so.1'],
      ['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'],
      ['libbar.so.2', '/opt/app/private/libbar.so.2', '/opt/app/private/libbar.so.2'], // $ORIGIN/../private
    ],
  );
  t.true(closure!.libraries[2]!.content.equals(host('/lib/x86_64-linux-gnu/libc.so.6')));
});

test('without the ld.so.conf directory, the skipped candidate leaves the name missing', async (t) => {
  const closure = await resolveElfClosure(root(), '/opt/app/bin/app');
  t.deepEqual(closure!.missing, ['libconf.so.1']);
  t.deepEqual(closure!.libraries.map((l) => l.name), ['libfoo.so.1', 'libc.so.6', 'libbar.so.2']);
});

test('a missing interpreter and a missing executable are reported, not thrown', async (t) => {
  const rootfs = fakeRootfs([file('opt/app/bin/app', built.get('app')!, 0o755)]);
  const closure = await resolveElfClosure(rootfs, '/opt/app/bin/app');
  t.deepEqual(closure!.missing, ['/lib64/ld-linux-x86-64.so.2', 'libfoo.so.1', 'libconf.so.1', 'libc.so.6']);
  t.is(await resolveElfClosure(rootfs, '/no/such/file'), undefined);
});

test('a malformed executable is E_ELF_INVALID', async (t) => {
  const rootfs = fakeRootfs([file('bin/x', Buffer.concat([built.get('app')!.subarray(0, 80)]), 0o755)]);
  await t.throwsAsync(resolveElfClosure(rootfs, '/bin/x'), { code: 'E_ELF_INVALID' });
});

test('ldSoConfDirs: order, includes (absolute, relative, glob sorted), separators, missing dirs dropped, loops bounded', async (t) => {
  const rootfs = fakeRootfs([
    dir('a'), dir('b'), dir('c'), dir('d'), dir('e'), dir('opt/x/lib'),
    file('etc/ld.so.conf', '/a # first\ninclude ld.so.conf.d/*.conf\n/b:/c,/missing\thwcap 0 nosegneg\n'),
    file('etc/ld.so.conf.d/20-two.conf', '/e\ninclude /etc/ld.so.conf\n'),
    file('etc/ld.so.conf.d/10-one.conf', '/d/\n/opt/x/lib=libc6\n/a\n'),
    file('etc/ld.so.conf.d/README', '/nope\n'),
  ]);
  t.deepEqual(await ldSoConfDirs(rootfs), ['/a', '/d', '/opt/x/lib', '/e', '/b', '/c']);
  t.deepEqual(await ldSoConfDirs(fakeRootfs([dir('a')])), []);
});
