/**
 * Hostile PAX records and cut extended headers (issue 17 item 8b): a NUL inside a PAX path,
 * linkpath, uname or gname is refused as Go's archive/tar refuses it; a link target that is not
 * UTF-8 is refused like such a name; a tar that ends after an extended header is a cut tar.
 */
import test from 'ava';
import { flatten } from '../../src/rootfs/index.ts';
import { paxRecord as record } from '../helpers/fuzz-tar.ts';
import { fakeImage, makeTar, padBlocks, rawHeader, type RawHeaderFields, type RawPart, type TarSpec } from '../helpers/tar.ts';

/** A PAX header ('x') with `records`, then `member`'s header (no member when undefined). */
function pax(records: Record<string, Buffer | string>, member?: RawHeaderFields): RawPart {
  const data = Buffer.concat(Object.entries(records).map(([k, v]) => record(k, Buffer.isBuffer(v) ? v : Buffer.from(v))));
  const parts = [rawHeader({ name: 'PaxHeader', typeflag: 'x', size: data.length }), padBlocks(data)];
  if (member) parts.push(rawHeader(member));
  return { raw: Buffer.concat(parts) };
}

async function flattenOne(parts: Array<TarSpec | RawPart>, options: { end?: boolean } = {}) {
  const img = fakeImage([await makeTar([{ name: 'ok', content: 'x' }]), await makeTar(parts, options)]);
  return { img, result: flatten(img) };
}

const nul = (s: string) => Buffer.from(s.replace('|', '\0'), 'latin1');

test('a NUL in a PAX linkpath is E_LAYER_CORRUPT, for symlinks and hardlinks', async (t) => {
  for (const typeflag of ['2', '1']) {
    const { img, result } = await flattenOne([{ name: 'etc/passwd', content: 'r' }, pax({ linkpath: nul('etc/passwd|/../x') }, { name: 'l', typeflag })]);
    const err = await t.throwsAsync(result, { code: 'E_LAYER_CORRUPT' });
    t.true(err!.message.startsWith(`layer 1 (${img.layers[1]!.descriptor.digest}): corrupt tar: NUL in the PAX linkpath record`), err!.message);
  }
});

test('a NUL in a PAX path, uname or gname is E_LAYER_CORRUPT', async (t) => {
  for (const key of ['path', 'uname', 'gname']) {
    const { result } = await flattenOne([pax({ [key]: nul('a|b') }, { name: 'f', typeflag: '0' })]);
    await t.throwsAsync(result, { code: 'E_LAYER_CORRUPT', message: new RegExp(`NUL in the PAX ${key} record`) }, key);
  }
  const { result } = await flattenOne([pax({ 'path\0x': 'a' }, { name: 'f', typeflag: '0' })]);
  await t.throwsAsync(result, { code: 'E_LAYER_CORRUPT', message: /NUL in a PAX record key/ });
});

test('NULs in other PAX records (binary xattr values) are kept', async (t) => {
  const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0]);
  const { result } = await flattenOne([pax({ 'SCHILY.xattr.security.capability': cap, path: 'bin/ping' }, { name: 'x', typeflag: '0' })]);
  t.is((await result).get('bin/ping')?.xattrs?.['security.capability'], cap.toString('latin1'));
});

test('a link target that is not UTF-8 is E_UNSAFE_PATH', async (t) => {
  for (const typeflag of ['2', '1']) {
    const { img, result } = await flattenOne([pax({ linkpath: Buffer.from([0x6f, 0x6b, 0xff]) }, { name: 'l', typeflag })]);
    const err = await t.throwsAsync(result, { code: 'E_UNSAFE_PATH' });
    t.true(err!.message.startsWith(`layer 1 (${img.layers[1]!.descriptor.digest}): "l": link target is not valid UTF-8`), err!.message);
  }
});

test('a tar that ends after an extended header, without its member, is E_LAYER_CORRUPT', async (t) => {
  const gnuL = (() => {
    const v = Buffer.from(`${'n'.repeat(120)}\0`);
    return { raw: Buffer.concat([rawHeader({ name: '././@LongLink', typeflag: 'L', size: v.length, gnu: true }), padBlocks(v)]) };
  })();
  for (const [what, dangling] of [['PAX', pax({ path: 'lost' })], ['GNU long name', gnuL]] as const) {
    // Cut on a block boundary (end of stream), and followed by the end-of-archive blocks.
    const cut = await flattenOne([{ name: 'a', content: 'x' }, dangling], { end: false });
    await t.throwsAsync(cut.result, { code: 'E_LAYER_CORRUPT', message: /end of tar stream after an extended header/ }, what);
    const ended = await flattenOne([{ name: 'a', content: 'x' }, dangling]);
    await t.throwsAsync(ended.result, { code: 'E_LAYER_CORRUPT', message: /extended header without a member/ }, what);
  }
  // A global PAX header ('g') is not waiting for a member.
  const data = record('comment', Buffer.from('hi'));
  const global = { raw: Buffer.concat([rawHeader({ name: 'g', typeflag: 'g', size: data.length }), padBlocks(data)]) };
  t.is((await (await flattenOne([{ name: 'a', content: 'x' }, global])).result).totals.files, 2);
});
