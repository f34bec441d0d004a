/**
 * planHostLoader: the Gramine loader of a runtime image (here a gcc-built PIE at
 * PKGLIBDIR/sgx/loader that needs a library of the runtime image and glibc), its closure copied
 * into PKGLIBDIR/sgx/host and the loader patched to use it. The planned files, alone in an
 * otherwise empty root, start under chroot (the unpatched loader does not); a missing library or
 * loader is E_CONFIG before anything is written.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readElfDynamic } from '../../src/elf/index.ts';
import { loadGramineConstants, type GramineConstants } from '../../src/measure/index.ts';
import { planHostLoader } from '../../src/pipeline/index.ts';
import { dir, fakeRootfs, file, symlink, type FakeEntry } from '../helpers/fake-rootfs.ts';

let work: string;
let constants: GramineConstants;
let loader: Buffer;
let libproto: Buffer;
const PKG = 'usr/lib/x86_64-linux-gnu/gramine';
const HOST = `/${PKG}/sgx/host`;
/** coreutils' chroot (we are root in tests); by path, as the children get no PATH. */
const CHROOT = '/usr/sbin/chroot';

test.before(async () => {
  constants = await loadGramineConstants('1.9');
  work = await mkdtemp(join(tmpdir(), 'cconv-host-loader-'));
  writeFileSync(join(work, 'proto.c'), 'const char *proto_version(void) { return "proto 1.4"; }\n');
  writeFileSync(join(work, 'loader.c'), '#include <stdio.h>\nconst char *proto_version(void);\nint main(int c, char **v) { printf("loader %s %s\\n", proto_version(), c > 3 ? v[3] : "-"); return 0; }\n');
  const gcc = (args: string[]) => execFileSync('gcc', args, { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  gcc(['-shared', '-fPIC', '-Wl,-soname,libproto.so.1', '-o', 'libproto.so.1', 'proto.c']);
  gcc(['-pie', '-fPIE', '-o', 'loader', 'loader.c', '-L.', '-l:libproto.so.1']);
  loader = readFileSync(join(work, 'loader'));
  libproto = readFileSync(join(work, 'libproto.so.1'));
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const host = (path: string): Buffer => readFileSync(realpathSync(path));

/** A merged-/usr runtime image with the loader and its libraries. */
function runtimeRoot(extra: FakeEntry[] = [], without: string[] = []) {
  const entries: FakeEntry[] = [
    dir(`${PKG}/sgx`),
    symlink('lib', 'usr/lib'),
    symlink('lib64', 'usr/lib64'),
    symlink('usr/lib64/ld-linux-x86-64.so.2', '../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
    file('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', host('/lib64/ld-linux-x86-64.so.2'), 0o755),
    file('usr/lib/x86_64-linux-gnu/libc.so.6', host('/lib/x86_64-linux-gnu/libc.so.6')),
    file('usr/lib/x86_64-linux-gnu/libproto.so.1.4.0', libproto),
    symlink('usr/lib/x86_64-linux-gnu/libproto.so.1', 'libproto.so.1.4.0'),
    file(`${PKG}/sgx/loader`, loader, 0o755),
    ...extra,
  ];
  return fakeRootfs(entries.filter((e) => !without.includes(e.path)));
}

/** Writes `files` (absolute paths) under a fresh root dir and returns it. */
function writeRoot(name: string, files: Array<{ path: string; content: Buffer; mode: number }>): string {
  const root = join(work, name);
  for (const f of files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
    chmodSync(join(root, f.path), f.mode);
  }
  return root;
}

test('the plan: Gramine argv, the patched loader, its interpreter and libraries in the private dir', async (t) => {
  const plan = await planHostLoader(runtimeRoot(), constants);
  t.deepEqual(plan.argv, [`/${PKG}/sgx/loader`, `/${PKG}/sgx/libpal.so`, 'init']);
  t.is(plan.dir, HOST);
  t.deepEqual(
    plan.files.map((f) => [f.path, f.mode]),
    [
      [`/${PKG}/sgx/loader`, 0o755],
      [`${HOST}/ld-linux-x86-64.so.2`, 0o755],
      [`${HOST}/libproto.so.1`, 0o644],
      [`${HOST}/libc.so.6`, 0o644],
    ],
  );
  t.true(plan.files[2]!.content.equals(libproto));
  t.deepEqual(readElfDynamic(plan.files[0]!.content), {
    type: 'dyn',
    interpreter: `${HOST}/ld-linux-x86-64.so.2`,
    needed: ['libproto.so.1', 'libc.so.6'],
    rpath: HOST,
  });
});

test('the planned files alone start the loader in an empty root; the unpatched loader does not', async (t) => {
  const plan = await planHostLoader(runtimeRoot(), constants);
  const root = writeRoot('patched', plan.files);
  const run = spawnSync(CHROOT, [root, ...plan.argv, '/cconv/app'], { env: { LD_LIBRARY_PATH: '/nowhere' }, encoding: 'utf8' });
  t.is(run.stderr, '');
  t.is(run.stdout, 'loader proto 1.4 /cconv/app\n');
  t.is(run.status, 0);

  const bare = writeRoot('unpatched', [{ path: `/${PKG}/sgx/loader`, content: loader, mode: 0o755 }, ...plan.files.slice(1)]);
  const failed = spawnSync(CHROOT, [bare, `/${PKG}/sgx/loader`], { env: {}, encoding: 'utf8' });
  t.not(failed.status, 0); // no /lib64/ld-linux-x86-64.so.2 in this root: exactly how the real loader fails on a musl or static app
});

test('a library the loader needs that the runtime image lacks is E_CONFIG naming it', async (t) => {
  const err = await t.throwsAsync(planHostLoader(runtimeRoot([], ['usr/lib/x86_64-linux-gnu/libproto.so.1.4.0']), constants), { code: 'E_CONFIG' });
  t.regex(err!.message, /needs libproto\.so\.1, which cannot be found/);
  await t.throwsAsync(planHostLoader(runtimeRoot([], [`${PKG}/sgx/loader`]), constants), { code: 'E_CONFIG', message: /no file at .*sgx\/loader/ });
});

test('a runtime image that already has the private dir is refused', async (t) => {
  await t.throwsAsync(planHostLoader(runtimeRoot([dir(`${PKG}/sgx/host`)]), constants), { code: 'E_CONFIG', message: /already has .*sgx\/host/ });
});
