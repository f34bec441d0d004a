import test from 'ava';
import type { ErrorCode } from '../../src/errors.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { fakeImage, makeTar, padBlocks, rawHeader, type RawPart, type TarSpec } from '../helpers/tar.ts';

const ok: TarSpec[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'link', type: 'symlink', linkname: '/etc' },
];

/** Flattens [ok layer, hostile layer] and checks code and that the message names layer 1, its digest and `path`. */
async function rejects(t: import('ava').ExecutionContext, hostile: Array<TarSpec | RawPart>, code: ErrorCode, path: string) {
  const img = fakeImage([await makeTar(ok), await makeTar(hostile)]);
  const err = await t.throwsAsync(flatten(img), { code });
  t.true(err.message.includes(`layer 1 (${img.layers[1]!.descriptor.digest})`), err.message);
  t.true(err.message.includes(JSON.stringify(path)), err.message);
}

// tar-stream's pack refuses some hostile names, so they are written as raw headers.
const raw = (name: string, typeflag = '0', linkname?: string): RawPart => ({ raw: rawHeader({ name, typeflag, ...(linkname ? { linkname } : {}) }) });

test('absolute path is E_UNSAFE_PATH', (t) => rejects(t, [raw('/etc/shadow')], 'E_UNSAFE_PATH', '/etc/shadow'));
test("'..' component is E_UNSAFE_PATH", (t) => rejects(t, [raw('a/../../x')], 'E_UNSAFE_PATH', 'a/../../x'));
test('writing through a symlink is E_UNSAFE_PATH', async (t) => {
  await rejects(t, [{ name: 'link/shadow', content: 'x' }], 'E_UNSAFE_PATH', 'link/shadow');
  const img = fakeImage([await makeTar(ok), await makeTar([{ name: 'link/shadow', content: 'x' }])]);
  await t.throwsAsync(flatten(img), { message: /may not write through a symlink/ });
});
test('an entry below a regular file is E_UNSAFE_PATH', (t) => rejects(t, [{ name: 'etc/passwd/x', content: 'x' }], 'E_UNSAFE_PATH', 'etc/passwd/x'));
test('a whiteout through a symlink is E_UNSAFE_PATH', (t) => rejects(t, [{ name: 'link/.wh.passwd' }], 'E_UNSAFE_PATH', 'link/.wh.passwd'));
test('hardlink target with .. is E_LINK_ESCAPE', (t) => rejects(t, [raw('l', '1', '../etc/passwd')], 'E_LINK_ESCAPE', 'l'));
test('absolute hardlink target is E_LINK_ESCAPE', (t) => rejects(t, [raw('l', '1', '/etc/passwd')], 'E_LINK_ESCAPE', 'l'));
test('symlink climbing above the root is E_LINK_ESCAPE', (t) =>
  rejects(t, [{ name: 'a/b/s', type: 'symlink', linkname: '../../../etc/passwd' }], 'E_LINK_ESCAPE', 'a/b/s'));
test('symlinks that stay inside (or are absolute) are fine', async (t) => {
  const fs = await flatten(
    fakeImage([await makeTar([{ name: 'a/b/s', type: 'symlink', linkname: '../../etc/passwd' }, { name: 'a/abs', type: 'symlink', linkname: '/../../etc' }])]),
  );
  t.is(fs.get('a/b/s')!.linkTarget, '../../etc/passwd');
  t.is(fs.get('a/abs')!.linkTarget, '/../../etc');
});
test('whiteout with no name is E_WHITEOUT_INVALID', (t) => rejects(t, [{ name: 'etc/.wh.' }], 'E_WHITEOUT_INVALID', 'etc/.wh.'));
test('whiteout of .. is E_WHITEOUT_INVALID', (t) => rejects(t, [raw('etc/.wh..')], 'E_WHITEOUT_INVALID', 'etc/.wh..'));
test('entry below a whiteout name is E_WHITEOUT_INVALID', (t) => rejects(t, [{ name: '.wh.etc/passwd', content: 'x' }], 'E_WHITEOUT_INVALID', '.wh.etc/passwd'));
test('a non-UTF-8 name is E_UNSAFE_PATH', async (t) => {
  const h = rawHeader({ name: 'x', typeflag: '0' });
  const bad = Buffer.from(h);
  bad[0] = 0xff;
  // fix the checksum for the changed byte
  bad.write('        ', 148, 'latin1');
  let sum = 0;
  for (const c of bad) sum += c;
  bad.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const img = fakeImage([await makeTar([{ raw: bad }])]);
  await t.throwsAsync(flatten(img), { code: 'E_UNSAFE_PATH', message: /layer 0 .*not valid UTF-8/ });
});
test('an unknown tar type is E_UNSUPPORTED', async (t) => {
  const img = fakeImage([await makeTar([{ raw: rawHeader({ name: 'm', typeflag: 'M' }) }])]);
  await t.throwsAsync(flatten(img), { code: 'E_UNSUPPORTED', message: /layer 0 .*"m"/ });
});

test('truncated tar is E_LAYER_CORRUPT naming the layer', async (t) => {
  const full = await makeTar([{ name: 'f', content: Buffer.alloc(3000, 1) }]);
  const img = fakeImage([full.subarray(0, 2000)]);
  await t.throwsAsync(flatten(img), { code: 'E_LAYER_CORRUPT', message: new RegExp(`layer 0 \\(${img.layers[0]!.descriptor.digest}\\): corrupt tar`) });
});

test('a header with a bad checksum is E_LAYER_CORRUPT', async (t) => {
  const tar = await makeTar([{ name: 'f', content: 'x' }]);
  tar[0] = 0x67;
  await t.throwsAsync(flatten(fakeImage([tar])), { code: 'E_LAYER_CORRUPT', message: /checksum/ });
});

test('a huge PAX header is E_LAYER_CORRUPT, not read into memory', async (t) => {
  const tar = await makeTar([{ raw: rawHeader({ name: 'PaxHeader', typeflag: 'x', size: 64 * 1024 * 1024 }) }, { raw: padBlocks(Buffer.from('x')) }], { end: false });
  await t.throwsAsync(flatten(fakeImage([tar])), { code: 'E_LAYER_CORRUPT', message: /too large/ });
});

test('entries hidden after a single zero block are E_LAYER_CORRUPT (as in Go archive/tar)', async (t) => {
  const hidden = await makeTar([{ name: 'a', content: 'a' }, { raw: Buffer.alloc(512) }, { name: 'hidden', content: 'h' }]);
  await t.throwsAsync(flatten(fakeImage([hidden])), { code: 'E_LAYER_CORRUPT', message: /after a zero block/ });
  const trailing = Buffer.concat([await makeTar([{ name: 'a', content: 'a' }]), Buffer.alloc(4096, 0x41)]);
  const fs = await flatten(fakeImage([trailing]));
  t.deepEqual([...fs.entries()].map((e) => e.path), ['a']);
});

test('a tar ending on a block boundary without end blocks is accepted', async (t) => {
  const fs = await flatten(fakeImage([await makeTar([{ name: 'a', content: 'a' }], { end: false })]));
  t.is(fs.get('a')!.size, 1);
});
