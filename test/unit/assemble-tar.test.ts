import test from 'ava';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { encodeHeaders, encodePaxRecords, tarStream, type TarItem } from '../../src/assemble/index.ts';
import { readTar } from '../../src/rootfs/tar-reader.ts';
import { readAll } from '../helpers/assemble-fixture.ts';

const base = { mode: 0o644, uid: 0, gid: 0, mtime: 946684800 };
const LONG = `${'d'.repeat(120)}/${'f'.repeat(90)}`; // fits ustar prefix + name
const UNSPLITTABLE = 'n'.repeat(150);

const items = (): TarItem[] => [
  { ...base, name: 'a/', type: 'dir', mode: 0o755 },
  { ...base, name: 'a/file', type: 'file', size: 5, content: () => [Buffer.from('hello')] },
  { ...base, name: 'a/link', type: 'hardlink', linkname: 'a/file' },
  { ...base, name: 'a/sym', type: 'symlink', linkname: `../${'t'.repeat(130)}` },
  { ...base, name: `a/${UNSPLITTABLE}`, type: 'file', size: 0 },
  { ...base, name: `a/${LONG}`, type: 'file', size: 1, content: () => [Buffer.from('x')] },
  { ...base, name: 'a/caf\u00e9', type: 'file', size: 0, uid: 3_000_000, gid: 5 },
  { ...base, name: 'a/cap', type: 'file', size: 0, mode: 0o4755, xattrs: { 'security.capability': '\x01\x00\x00\x02\xff', 'user.x': 'y' } },
  { ...base, name: 'a/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
  { ...base, name: 'a/fifo', type: 'fifo' },
];

test('round trip through the rootfs tar reader: names, links, owners, xattrs, devices', async (t) => {
  const tar = await readAll(tarStream(items()));
  const back = [];
  for await (const e of readTar(Readable.from([tar]))) {
    const content = (await readAll(e.body())).toString('latin1');
    back.push({ name: e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, linkname: e.linkname, dev: [e.devmajor, e.devminor], xattrs: e.xattrs, content });
  }
  const row = (name: string, type: string, extra: Record<string, unknown> = {}) => ({ name, type, mode: 0o644, uid: 0, gid: 0, mtime: 946684800, linkname: '', dev: [0, 0], xattrs: undefined, content: '', ...extra });
  t.deepEqual(back, [
    row('a/', 'dir', { mode: 0o755 }),
    row('a/file', 'file', { content: 'hello' }),
    row('a/link', 'link', { linkname: 'a/file' }),
    row('a/sym', 'symlink', { linkname: `../${'t'.repeat(130)}` }),
    row(`a/${UNSPLITTABLE}`, 'file'),
    row(`a/${LONG}`, 'file', { content: 'x' }),
    row('a/caf\u00e9', 'file', { uid: 3_000_000, gid: 5 }),
    row('a/cap', 'file', { mode: 0o4755, xattrs: { 'security.capability': '\x01\x00\x00\x02\xff', 'user.x': 'y' } }),
    row('a/null', 'char', { mode: 0o666, dev: [1, 3] }),
    row('a/fifo', 'fifo'),
  ]);
});

test('GNU tar reads the archive the same way', async (t) => {
  const tar = await readAll(tarStream(items()));
  const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', '-'], { input: tar, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } }).toString();
  const lines = listing.trim().split('\n').map((l) => l.replace(/\s+/g, ' '));
  t.deepEqual(lines, [
    'drwxr-xr-x 0/0 0 2000-01-01 00:00:00 a/',
    '-rw-r--r-- 0/0 5 2000-01-01 00:00:00 a/file',
    'hrw-r--r-- 0/0 0 2000-01-01 00:00:00 a/link link to a/file',
    `lrw-r--r-- 0/0 0 2000-01-01 00:00:00 a/sym -> ../${'t'.repeat(130)}`,
    `-rw-r--r-- 0/0 0 2000-01-01 00:00:00 a/${UNSPLITTABLE}`,
    `-rw-r--r-- 0/0 1 2000-01-01 00:00:00 a/${LONG}`,
    '-rw-r--r-- 3000000/5 0 2000-01-01 00:00:00 a/caf\u00e9',
    '-rwsr-xr-x 0/0 0 2000-01-01 00:00:00 a/cap',
    'crw-rw-rw- 0/0 1,3 2000-01-01 00:00:00 a/null',
    'prw-r--r-- 0/0 0 2000-01-01 00:00:00 a/fifo',
  ]);
});

test('ustar only where it suffices: one header block, empty uname/gname, fixed fields', (t) => {
  const h = encodeHeaders({ ...base, name: 'a/file', type: 'file', size: 5 });
  t.is(h.length, 512);
  t.is(h.toString('latin1', 0, 6), 'a/file');
  t.is(h.toString('latin1', 100, 108), '0000644\0');
  t.is(h.toString('latin1', 124, 136), '00000000005\0');
  t.is(h.toString('latin1', 136, 148), '07033241600\0');
  t.is(h.toString('latin1', 156, 157), '0');
  t.is(h.toString('latin1', 257, 265), 'ustar\x0000');
  t.true(h.subarray(265, 329).every((b) => b === 0)); // uname, gname
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  t.is(h.toString('latin1', 148, 156), `${sum.toString(8).padStart(6, '0')}\0 `);
  // A long splittable ASCII name still needs no PAX; a 150-byte component does.
  t.is(encodeHeaders({ ...base, name: `a/${LONG}`, type: 'file', size: 0 }).length, 512);
  const pax = encodeHeaders({ ...base, name: UNSPLITTABLE, type: 'file', size: 0 });
  t.is(pax.length, 512 * 3);
  t.is(pax.toString('latin1', 156, 157), 'x');
  t.deepEqual(pax.subarray(512, 512 + 160), encodePaxRecords([['path', Buffer.from(UNSPLITTABLE)]]));
  t.is(encodePaxRecords([['path', Buffer.from(UNSPLITTABLE)]]).toString(), `160 path=${UNSPLITTABLE}\n`);
  t.is(encodePaxRecords([['uid', Buffer.from('9')], ['gid', Buffer.from('8')]]).toString(), '8 gid=8\n8 uid=9\n');
});

test('content shorter or longer than its size fails with E_SIZE_MISMATCH', async (t) => {
  for (const content of ['abc', 'abcdef']) {
    const s = tarStream([{ ...base, name: 'f', type: 'file', size: 5, content: () => [Buffer.from(content)] }]);
    await t.throwsAsync(readAll(s), { code: 'E_SIZE_MISMATCH' });
  }
});
