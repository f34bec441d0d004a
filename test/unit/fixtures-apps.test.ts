/**
 * The app fixtures' shapes: app-musl carries busybox (from Debian's busybox-static) with Alpine's
 * applet links and no bash; app-static holds nothing but a statically linked show, its data and
 * /etc, and that show runs as is on this host. Needs readelf (binutils).
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { fetchDeb } from '../../fixtures/debs.ts';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/types.ts';
import { openSource } from '../../src/transports/index.ts';

let fixtures: FixtureSet;
let work: string;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-fixtures-apps-');
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The flattened OCI form of a fixture and its config, with `read(path)` for small files. */
async function open(name: string): Promise<{ rootfs: Rootfs; config: Record<string, unknown>; read: (p: string) => Promise<Buffer> }> {
  const image = await openSource({ transport: 'oci', dir: fixtures.get(name).paths.oci! }).open();
  const rootfs = await flatten(image, { hash: true });
  const read = async (p: string): Promise<Buffer> => {
    const b = await rootfs.readFile(p, 8 << 20);
    if (b === undefined) throw new Error(`${name} has no ${p}`);
    return b;
  };
  await image.close(); // an OCI layout holds nothing open: the rootfs stays readable
  return { rootfs, config: image.config.config as Record<string, unknown>, read };
}

/** readelf's program headers of `bytes` (written to a temp file). */
function programHeaders(bytes: Buffer, name: string): string {
  const path = join(work, name);
  writeFileSync(path, bytes);
  return execFileSync('readelf', ['-lW', path], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
}

test('app-musl: busybox from busybox-static with applet links as Alpine makes them, no bash', async (t) => {
  const { rootfs, read } = await open('app-musl');
  const busybox = rootfs.resolve('bin/busybox');
  t.is(busybox?.type, 'file');
  t.is(busybox?.mode, 0o755);
  const deb = fetchDeb('busybox-static');
  t.deepEqual(fixtures.get('app-musl').debs, [{ package: 'busybox-static', version: deb.version, sha256: deb.sha256 }]);
  t.notRegex(programHeaders(await read('/bin/busybox'), 'busybox'), /INTERP/, 'busybox-static needs no loader');
  const links = [...rootfs.entries()].filter((e) => e.type === 'symlink' && e.linkTarget === '/bin/busybox').map((e) => e.path.replace(/^\//, ''));
  t.deepEqual(links.sort(), ['bin/cat', 'bin/echo', 'bin/ls', 'bin/sh', 'usr/bin/env', 'usr/bin/id']);
  t.deepEqual([...rootfs.entries()].filter((e) => /bash/.test(e.path)).map((e) => e.path), []);
  t.is(rootfs.resolve('lib/ld-musl-x86_64.so.1')?.type, 'file');
});

test('app-static: only show (static, musl), its data and /etc; same config shape as the others; show runs as is', async (t) => {
  const { rootfs, config, read } = await open('app-static');
  const paths = [...rootfs.entries()].map((e) => `${e.type} ${e.path.replace(/^\//, '')}`).sort();
  t.deepEqual(paths, ['dir app', 'dir app/bin', 'dir app/data', 'dir etc', 'file app/bin/show', 'file app/data/message.txt', 'file etc/group', 'file etc/passwd']);
  t.like(config, { Entrypoint: ['/app/bin/show'], Cmd: ['--greet', 'world'], User: 'app', WorkingDir: '/app' });
  t.true((config.Env as string[]).includes('APP_MODE=static-fixture'));
  const show = await read('/app/bin/show');
  t.notRegex(programHeaders(show, 'show'), /INTERP|DYNAMIC/, 'statically linked');
  // No loader and no libc needed: it runs on this host straight from the image bytes.
  const dir = join(work, 'static-app');
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data/message.txt'), await read('/app/data/message.txt'));
  writeFileSync(join(dir, 'show'), show);
  chmodSync(join(dir, 'show'), 0o755);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(join(dir, 'show'), ['--greet', 'world'], { cwd: dir, env: { APP_MODE: 'static-fixture' } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  t.regex(out, /^libc: musl\nargc: 3\n/);
  t.regex(out, /^env APP_MODE: static-fixture$/m);
  t.regex(out, /^data: hello from the static fixture$/m);
});
