import test from 'ava';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/index.ts';
import { fakeImage, makeTar, sha256, type TarSpec } from '../helpers/tar.ts';

async function build(...layers: TarSpec[][]): Promise<Rootfs> {
  return flatten(fakeImage(await Promise.all(layers.map((l) => makeTar(l)))));
}

test('hardlink to an earlier file of the same layer: a file with hardlinkTo, same size and sha256', async (t) => {
  const fs = await build([
    { name: 'bin/perl5', content: 'perl!', mode: 0o755, uid: 3 },
    { name: 'bin/perl', type: 'link', linkname: 'bin/perl5', mode: 0o600 },
  ]);
  const link = fs.get('bin/perl')!;
  t.is(link.type, 'file');
  t.is(link.hardlinkTo, 'bin/perl5');
  t.is(link.size, 5);
  t.is(link.sha256, sha256('perl!'));
  t.deepEqual([link.mode, link.uid], [0o755, 3]); // the inode's metadata
  t.is(fs.get('bin/perl5')!.hardlinkTo, undefined);
  t.deepEqual(fs.totals, { files: 1, dirs: 1, symlinks: 0, hardlinks: 1, other: 0, bytes: 5 });
});

test('hardlink to a file of an earlier layer', async (t) => {
  const fs = await build([{ name: 'lib/a.so', content: 'ELF' }], [{ name: 'lib/b.so', type: 'link', linkname: './lib/a.so' }]);
  const b = fs.get('lib/b.so')!;
  t.is(b.hardlinkTo, 'lib/a.so');
  t.is(b.sha256, sha256('ELF'));
  t.is(b.layer, 1);
});

test('hardlink whose target is deleted later keeps the content', async (t) => {
  const fs = await build([{ name: 't', content: 'keep me' }, { name: 'l1', type: 'link', linkname: 't' }, { name: 'l2', type: 'link', linkname: 't' }], [{ name: '.wh.t' }]);
  t.is(fs.get('t'), undefined);
  const l1 = fs.get('l1')!;
  t.is(l1.hardlinkTo, undefined);
  t.is(l1.sha256, sha256('keep me'));
  t.is(fs.get('l2')!.hardlinkTo, 'l1');
  t.deepEqual(fs.totals, { files: 1, dirs: 0, symlinks: 0, hardlinks: 1, other: 0, bytes: 7 });
  t.deepEqual(await fs.readFile('l2'), Buffer.from('keep me'));
});

test('a target replaced later does not change the hardlink content', async (t) => {
  const fs = await build([{ name: 't', content: 'old' }, { name: 'l', type: 'link', linkname: 't' }], [{ name: 't', content: 'brand new' }]);
  t.is(fs.get('l')!.hardlinkTo, undefined);
  t.deepEqual(await fs.readFile('l'), Buffer.from('old'));
  t.deepEqual(await fs.readFile('t'), Buffer.from('brand new'));
});

test('hardlink to a missing or non-regular target is E_LINK_INVALID', async (t) => {
  const img = async (...specs: TarSpec[]) => fakeImage([await makeTar(specs)]);
  const missing = await img({ name: 'l', type: 'link', linkname: 'nope' });
  const err = await t.throwsAsync(flatten(missing), { code: 'E_LINK_INVALID' });
  t.true(err.message.includes(`layer 0 (${missing.layers[0]!.descriptor.digest})`));
  t.true(err.message.includes('"l"'));
  await t.throwsAsync(flatten(await img({ name: 'd/', type: 'directory' }, { name: 'l', type: 'link', linkname: 'd' })), { code: 'E_LINK_INVALID' });
  await t.throwsAsync(flatten(await img({ name: 's', type: 'symlink', linkname: 'x' }, { name: 'x', content: '1' }, { name: 'l', type: 'link', linkname: 's' })), {
    code: 'E_LINK_INVALID',
  });
});

const linkTree: TarSpec[] = [
  { name: 'usr/lib/libc.so.6', content: 'libc' },
  { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
  { name: 'usr/lib/libc.so', type: 'symlink', linkname: 'libc.so.6' },
  { name: 'usr/bin/abs', type: 'symlink', linkname: '/usr/lib/libc.so' },
  { name: 'usr/bin/up', type: 'symlink', linkname: '../../../../usr/lib/libc.so.6' },
  { name: 'etc/alt', type: 'symlink', linkname: '/lib/libc.so' },
  { name: 'loop1', type: 'symlink', linkname: 'loop2' },
  { name: 'loop2', type: 'symlink', linkname: '/loop1' },
  { name: 'dangling', type: 'symlink', linkname: 'nowhere' },
];

test('resolve follows relative, absolute and chained symlinks and directory symlinks in the middle', async (t) => {
  const fs = await build(linkTree.filter((s) => s.name !== 'usr/bin/up'));
  t.is(fs.resolve('lib/libc.so')!.path, 'usr/lib/libc.so.6');
  t.is(fs.resolve('/usr/bin/abs')!.path, 'usr/lib/libc.so.6');
  t.is(fs.resolve('etc/alt')!.path, 'usr/lib/libc.so.6');
  t.is(fs.resolve('lib/../lib/./libc.so.6')!.path, 'usr/lib/libc.so.6');
  t.is(fs.resolve('etc/alt', { followLast: false })!.type, 'symlink');
  t.is(fs.resolve('lib/libc.so', { followLast: false })!.path, 'usr/lib/libc.so');
  t.is(fs.resolve('dangling'), undefined);
  t.is(fs.resolve('usr/lib/libc.so.6/x'), undefined);
  t.is(fs.get('lib')!.linkTarget, 'usr/lib');
  t.is(fs.get('lib/libc.so'), undefined); // get never follows links
});

test("resolve: '..' stops at the root (chroot semantics)", async (t) => {
  const fs = await build([{ name: 'usr/lib/libc.so.6', content: 'libc' }, { name: 'usr/bin/up', type: 'symlink', linkname: '/../../usr/lib/libc.so.6' }]);
  t.is(fs.resolve('../../../usr/bin/up')!.path, 'usr/lib/libc.so.6');
});

test('resolve: a symlink loop is E_LINK_INVALID', async (t) => {
  const fs = await build(linkTree.filter((s) => s.name !== 'usr/bin/up'));
  t.throws(() => fs.resolve('loop1'), { code: 'E_LINK_INVALID' });
  t.is(fs.resolve('loop1', { followLast: false })!.path, 'loop1');
});
