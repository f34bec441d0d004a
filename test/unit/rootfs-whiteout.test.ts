import test from 'ava';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/index.ts';
import { fakeImage, makeTar, type TarSpec } from '../helpers/tar.ts';

async function build(...layers: TarSpec[][]): Promise<Rootfs> {
  return flatten(fakeImage(await Promise.all(layers.map((l) => makeTar(l)))));
}

function paths(fs: Rootfs): string[] {
  return [...fs.entries()].map((e) => `${e.path}${e.type === 'dir' ? '/' : ''}`);
}

const base: TarSpec[] = [
  { name: 'a/', type: 'directory' },
  { name: 'a/x', content: 'x0' },
  { name: 'a/y', content: 'y0' },
  { name: 'a/sub/', type: 'directory' },
  { name: 'a/sub/deep', content: 'd0' },
  { name: 'b', content: 'b0' },
];

test('plain whiteout removes a file and a whole directory subtree from lower layers', async (t) => {
  const fs = await build(base, [{ name: 'a/.wh.x' }, { name: 'a/.wh.sub' }]);
  t.deepEqual(paths(fs), ['a/', 'a/y', 'b']);
});

test('whiteout files never appear, and a whiteout of a missing name is a no-op', async (t) => {
  const fs = await build(base, [{ name: '.wh.nothing' }, { name: 'a/.wh.nope' }]);
  t.deepEqual(paths(fs), ['a/', 'a/sub/', 'a/sub/deep', 'a/x', 'a/y', 'b']);
});

test('opaque marker hides all lower children but keeps the directory and same-layer entries, in any order', async (t) => {
  for (const order of [
    [{ name: 'a/', type: 'directory', mode: 0o700 }, { name: 'a/.wh..wh..opq' }, { name: 'a/new', content: 'n' }],
    [{ name: 'a/new', content: 'n' }, { name: 'a/.wh..wh..opq' }, { name: 'a/', type: 'directory', mode: 0o700 }],
  ] as TarSpec[][]) {
    const fs = await build(base, order);
    t.deepEqual(paths(fs), ['a/', 'a/new', 'b']);
    t.is(fs.get('a')!.mode, 0o700);
    t.is(fs.get('a')!.layer, 1);
  }
});

test('opaque keeps a same-layer subdirectory but hides its lower children', async (t) => {
  const fs = await build(base, [{ name: 'a/.wh..wh..opq' }, { name: 'a/sub/', type: 'directory', mode: 0o711 }, { name: 'a/sub/n', content: 'n' }]);
  t.deepEqual(paths(fs), ['a/', 'a/sub/', 'a/sub/n', 'b']);
  t.is(fs.get('a/sub')!.mode, 0o711);
});

test('a whiteout does not apply to entries of its own layer, whatever the order', async (t) => {
  for (const order of [
    [{ name: 'c', content: 'new' }, { name: '.wh.c' }],
    [{ name: '.wh.c' }, { name: 'c', content: 'new' }],
  ] as TarSpec[][]) {
    const fs = await build([{ name: 'c', content: 'old' }], order);
    t.is(fs.get('c')!.size, 3);
    t.is(fs.get('c')!.layer, 1);
  }
});

test('same-layer entries below a whited-out lower directory survive; the directory becomes implicit', async (t) => {
  const fs = await build(base, [{ name: 'a/z', content: 'z' }, { name: '.wh.a' }]);
  t.deepEqual(paths(fs), ['a/', 'a/z', 'b']);
  const a = fs.get('a')!;
  t.deepEqual([a.mode, a.uid, a.gid, a.mtime, a.layer], [0o755, 0, 0, 0, 1]);
});

test('whiteout then recreate in a later layer', async (t) => {
  const fs = await build(base, [{ name: '.wh.a' }], [{ name: 'a/fresh', content: 'f' }]);
  t.deepEqual(paths(fs), ['a/', 'a/fresh', 'b']);
  t.is(fs.get('a')!.layer, 2);
});

test('a file replaced by a directory, and a directory replaced by a file (subtree gone)', async (t) => {
  const fs = await build(base, [
    { name: 'b/', type: 'directory', mode: 0o750 },
    { name: 'b/in', content: 'i' },
    { name: 'a', content: 'now a file' },
  ]);
  t.deepEqual(paths(fs), ['a', 'b/', 'b/in']);
  t.is(fs.get('a')!.type, 'file');
  t.is(fs.get('a')!.size, 10);
  t.is(fs.get('b')!.mode, 0o750);
});

test('a directory over a directory updates metadata and keeps its children', async (t) => {
  const fs = await build(base, [{ name: 'a/', type: 'directory', mode: 0o700, uid: 5, gid: 6, mtime: 42 }]);
  t.deepEqual(paths(fs), ['a/', 'a/sub/', 'a/sub/deep', 'a/x', 'a/y', 'b']);
  const a = fs.get('a')!;
  t.deepEqual([a.mode, a.uid, a.gid, a.mtime, a.layer], [0o700, 5, 6, 42, 1]);
});

test('implicit parent directories are created 0755 root mtime 0', async (t) => {
  const fs = await build([{ name: './p/q//r/', type: 'directory', mode: 0o700 }, { name: 'p/q/r/f', content: '1' }]);
  t.deepEqual(paths(fs), ['p/', 'p/q/', 'p/q/r/', 'p/q/r/f']);
  const p = fs.get('p')!;
  t.deepEqual([p.mode, p.uid, p.gid, p.mtime], [0o755, 0, 0, 0]);
  t.is(fs.get('p/q/r')!.mode, 0o700);
});

test('a later entry for the same path in one layer wins', async (t) => {
  const fs = await build([{ name: 'f', content: 'one' }, { name: 'f', content: 'three' }]);
  t.is(fs.get('f')!.size, 5);
});
