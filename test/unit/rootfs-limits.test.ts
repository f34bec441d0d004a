/**
 * flatten's bounds (issue 17 item 7): entries, layers, path and name lengths. Small limits on
 * small layers stand for the defaults on huge ones; one test checks the defaults themselves.
 */
import test from 'ava';
import type { CconvError } from '../../src/errors.ts';
import { DEFAULT_FLATTEN_LIMITS, flatten } from '../../src/rootfs/index.ts';
import { fakeImage, fakeLayer, makeTar, type TarSpec } from '../helpers/tar.ts';

const files = (n: number, dir = 'd'): TarSpec[] => Array.from({ length: n }, (_, i) => ({ name: `${dir}/f${i}`, content: '' }));

test('the defaults are 1,000,000 entries, 500 layers, 64 KiB paths and 255-byte names', (t) => {
  t.deepEqual({ ...DEFAULT_FLATTEN_LIMITS }, { maxEntries: 1_000_000, maxLayers: 500, maxPathBytes: 65_536, maxNameBytes: 255 });
});

test('more layers than maxLayers is E_UNSUPPORTED before any layer is opened', async (t) => {
  const tar = await makeTar([{ name: 'a', content: 'x' }]);
  const img = fakeImage([tar, tar, tar, tar]);
  const err = await t.throwsAsync<CconvError>(flatten(img, { limits: { maxLayers: 3 } }), { code: 'E_UNSUPPORTED' });
  t.regex(err.message, /4 layers, over the limit of 3/);
  t.regex(err.hint ?? '', /limits\.maxLayers/);
  t.true(img.layers.every((l) => l.opens === 0));
  t.is((await flatten(img, { limits: { maxLayers: 4 } })).totals.files, 1);
});

test('501 layers are refused by default, 500 are not', async (t) => {
  const tar = await makeTar([]);
  await t.throwsAsync(flatten(fakeImage(Array.from({ length: 501 }, () => tar))), { code: 'E_UNSUPPORTED', message: /501 layers/ });
  t.is([...(await flatten(fakeImage(Array.from({ length: 500 }, () => tar)))).entries()].length, 0);
});

test('one layer with more members than maxEntries is refused while it is read', async (t) => {
  // 10 files and their directory: 11 members.
  const tar = await makeTar([{ name: 'd/', type: 'directory' }, ...files(10)]);
  const img = fakeImage([tar]);
  const err = await t.throwsAsync<CconvError>(flatten(img, { limits: { maxEntries: 10 } }), { code: 'E_UNSUPPORTED' });
  t.true(err.message.startsWith(`layer 0 (${img.layers[0]!.descriptor.digest}): over the limit of 10 entries`), err.message);
  t.regex(err.hint ?? '', /limits\.maxEntries/);
  t.is((await flatten(img, { limits: { maxEntries: 11 } })).totals.files, 10);
});

test('maxEntries counts the members of all layers, whiteouts included', async (t) => {
  const img = fakeImage([await makeTar(files(4, 'a')), await makeTar([...files(3, 'b'), { name: 'a/.wh.f0' }])]);
  // 4 + 4 members, plus the implicit directories a and b.
  await t.throwsAsync(flatten(img, { limits: { maxEntries: 9 } }), { code: 'E_UNSUPPORTED', message: /^layer 1 .*over the limit of 9 entries/ });
  const fs = await flatten(img, { limits: { maxEntries: 10 } });
  t.is(fs.totals.files, 6);
});

test('implicitly created parent directories count as entries', async (t) => {
  // One member, 50 directories above it that no member names.
  const deep = `${Array.from({ length: 50 }, (_, i) => `d${i}`).join('/')}/f`;
  const img = fakeImage([await makeTar([{ name: deep, content: 'x' }])]);
  await t.throwsAsync(flatten(img, { limits: { maxEntries: 50 } }), { code: 'E_UNSUPPORTED', message: /over the limit of 50 entries/ });
  t.is((await flatten(img, { limits: { maxEntries: 51 } })).totals.dirs, 50);
});

test('a path longer than maxPathBytes is refused, in bytes of UTF-8', async (t) => {
  const name = `${'é'.repeat(20)}/f`; // 42 bytes, 22 characters
  const img = fakeImage([await makeTar([{ name, content: 'x' }])]);
  const err = await t.throwsAsync<CconvError>(flatten(img, { limits: { maxPathBytes: 41 } }), { code: 'E_UNSUPPORTED' });
  t.regex(err.message, /^layer 0 .*: "é+\/f": path of 42 bytes, over the limit of 41$/);
  t.regex(err.hint ?? '', /limits\.maxPathBytes/);
  t.truthy((await flatten(img, { limits: { maxPathBytes: 42 } })).get(name));
});

test('a PAX path over 64 KiB is refused by default', async (t) => {
  const name = `${'abcdefgh/'.repeat(7282)}f`; // 65,539 bytes, every name short
  const img = fakeImage([await makeTar([{ name, content: 'x' }])]);
  await t.throwsAsync(flatten(img), { code: 'E_UNSUPPORTED', message: /path of 65539 bytes, over the limit of 65536/ });
  const ok = fakeImage([await makeTar([{ name: name.slice(9), content: 'x' }])]);
  t.is((await flatten(ok)).totals.files, 1);
});

test('a path component longer than maxNameBytes is refused; 255 bytes pass by default', async (t) => {
  const long = fakeImage([await makeTar([{ name: `d/${'n'.repeat(256)}`, content: 'x' }])]);
  const err = await t.throwsAsync<CconvError>(flatten(long), { code: 'E_UNSUPPORTED' });
  t.regex(err.message, /path component of 256 bytes, over the limit of 255$/);
  t.regex(err.hint ?? '', /limits\.maxNameBytes/);
  t.is((await flatten(long, { limits: { maxNameBytes: 256 } })).totals.files, 1);
  t.is((await flatten(fakeImage([await makeTar([{ name: `${'n'.repeat(255)}/f`, content: 'x' }])]))).totals.files, 1);
});

test('a link target longer than maxPathBytes is refused', async (t) => {
  const img = fakeImage([await makeTar([{ name: 's', type: 'symlink', linkname: `/${'t'.repeat(99)}` }])]);
  await t.throwsAsync(flatten(img, { limits: { maxPathBytes: 99 } }), { code: 'E_UNSUPPORTED', message: /"s": link target of 100 bytes/ });
  t.is((await flatten(img, { limits: { maxPathBytes: 100 } })).get('s')?.linkTarget, `/${'t'.repeat(99)}`);
});

test('limits that are not positive integers are E_USAGE', async (t) => {
  const img = fakeImage([await makeTar([])]);
  for (const limits of [{ maxEntries: 0 }, { maxLayers: -1 }, { maxPathBytes: 1.5 }, { maxNameBytes: Number.NaN }]) {
    await t.throwsAsync(flatten(img, { limits }), { code: 'E_USAGE' }, JSON.stringify(limits));
  }
});

test('a refused layer stops being read: its stream is destroyed', async (t) => {
  const layer = fakeLayer(0, await makeTar(files(200)), { chunk: 512 });
  await t.throwsAsync<CconvError>(flatten({ layers: [layer] }, { limits: { maxEntries: 5 } }), { code: 'E_UNSUPPORTED' });
  t.true(layer.lastStream?.destroyed);
});
