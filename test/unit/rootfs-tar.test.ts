import { readFileSync } from 'node:fs';
import test from 'ava';
import { flatten } from '../../src/rootfs/index.ts';
import { fakeImage, gnuLong, makeTar, sha256, type RawPart, type TarSpec } from '../helpers/tar.ts';

async function one(parts: Array<TarSpec | RawPart>) {
  return flatten(fakeImage([await makeTar(parts)]));
}

const long150 = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(28)}`;
const long300 = `${'x'.repeat(200)}/${'y'.repeat(99)}`;

test('PAX long names (> 100 and > 255 bytes) and long link names', async (t) => {
  t.true(long150.length > 100 && long300.length > 255);
  const target = `/${'t'.repeat(180)}`;
  const fs = await one([
    { name: long150, content: 'a' },
    { name: long300, content: 'bb' },
    { name: 'ln', type: 'symlink', linkname: target },
  ]);
  t.is(fs.get(long150)!.size, 1);
  t.is(fs.get(long300)!.size, 2);
  t.is(fs.get(long300)!.sha256, sha256('bb'));
  t.is(fs.get('ln')!.linkTarget, target);
});

test('GNU long names and long link names', async (t) => {
  const name = `gnu/${'n'.repeat(140)}`;
  const link = `${'l'.repeat(130)}`;
  const fs = await one([
    gnuLong('L', name, { name: name.slice(0, 100), typeflag: '0', size: 3 }, Buffer.from('abc')),
    gnuLong('K', link, { name: 'sym', typeflag: '2', linkname: link.slice(0, 100) }),
  ]);
  t.is(fs.get(name)!.sha256, sha256('abc'));
  t.is(fs.get('sym')!.linkTarget, link);
  t.deepEqual(
    [...fs.entries()].map((e) => e.path),
    ['gnu', name, 'sym'],
  );
});

test('PAX uid, gid, mtime and xattrs are applied', async (t) => {
  const fs = await one([
    {
      name: 'bin/ping',
      content: 'ping',
      uid: 1,
      gid: 2,
      pax: { uid: '3000000', gid: '4000000', mtime: '1234567890.75', 'SCHILY.xattr.security.capability': 'cap-bytes', 'SCHILY.xattr.user.x': 'v' },
    },
  ]);
  const e = fs.get('bin/ping')!;
  t.deepEqual([e.uid, e.gid, e.mtime], [3000000, 4000000, 1234567890]);
  t.deepEqual(e.xattrs, { 'security.capability': 'cap-bytes', 'user.x': 'v' });
});

test('devices and fifos are listed with their numbers, never read', async (t) => {
  const fs = await one([
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
    { name: 'run/fifo', type: 'fifo' },
  ]);
  t.like(fs.get('dev/null'), { type: 'char', devmajor: 1, devminor: 3, mode: 0o666, size: 0 });
  t.like(fs.get('dev/sda'), { type: 'block', devmajor: 8, devminor: 0 });
  t.like(fs.get('run/fifo'), { type: 'fifo', size: 0 });
  t.deepEqual(fs.totals, { files: 0, dirs: 2, symlinks: 0, hardlinks: 0, other: 3, bytes: 0 });
});

test('contiguous files are regular files', async (t) => {
  const fs = await one([{ name: 'c', type: 'contiguous-file', content: 'cc' }]);
  t.like(fs.get('c'), { type: 'file', size: 2, sha256: sha256('cc') });
});

/** The sparse file of fixtures/rootfs-sparse/make.sh, rebuilt from its recipe. */
function sparseOriginal(): Buffer {
  const b = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < 8; i++) b.write(`region-${i}`, i * 1048576 + i * 1000, 'latin1');
  return b;
}

const fixtures = new URL('../../fixtures/rootfs-sparse/', import.meta.url);
for (const file of ['gnu.tar', 'pax-1.0.tar', 'pax-0.1.tar', 'pax-0.0.tar']) {
  test(`sparse file (${file}): expanded size, hash and content`, async (t) => {
    const original = sparseOriginal();
    const tar = readFileSync(new URL(file, fixtures));
    t.true(tar.length < 64 * 1024); // really stored sparse
    const fs = await one([{ raw: tar }]);
    const e = fs.get('sparse.bin')!;
    t.like(e, { type: 'file', size: original.length, mtime: 1700000000, uid: 0 });
    t.is(e.sha256, sha256(original));
    const content = await fs.readFile('sparse.bin', 16 * 1024 * 1024);
    t.true(content!.equals(original));
    t.deepEqual([...fs.entries()].map((x) => x.path), ['sparse.bin']);
  });
}

test('a PAX size record overrides the header size field', async (t) => {
  const { padBlocks, rawHeader } = await import('../helpers/tar.ts');
  const rec = Buffer.from('10 size=3\n');
  const fs = await one([
    { raw: Buffer.concat([rawHeader({ name: 'PaxHeader/f', typeflag: 'x', size: rec.length }), padBlocks(rec)]) },
    { raw: Buffer.concat([rawHeader({ name: 'f', typeflag: '0', size: 0 }), padBlocks(Buffer.from('xyz'))]) },
    { name: 'after', content: 'ok' },
  ]);
  t.like(fs.get('f'), { size: 3, sha256: sha256('xyz') });
  t.like(fs.get('after'), { size: 2 });
});

test('GNU base-256 numbers decode (sizes and ids over the octal range)', async (t) => {
  const { parseNumber } = await import('../../src/rootfs/tar-header.ts');
  const field = Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x01]);
  t.is(parseNumber(field, 0, 12), 2 ** 32 + 1);
  t.is(parseNumber(Buffer.from('0000644 \0'), 0, 9), 0o644);
  t.throws(() => parseNumber(Buffer.from('12x4\0'), 0, 5), { message: /bad octal/ });
});
