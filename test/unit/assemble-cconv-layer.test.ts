/**
 * The cconv layer built from many ciphertexts packed in one spool file (as encryptSelected writes
 * them): every member carries exactly its range, whether the ranges come in spool order (served by
 * read-ahead, a range larger than the window included) or in the reverse order; with ciphertexts
 * the layer is gzip of stored blocks, without them it is deflated.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildCconvLayer } from '../../src/assemble/cconv-layer.ts';
import type { EncryptedFile } from '../../src/assemble/index.ts';
import { tarMembers, tempDir } from '../helpers/assemble-fixture.ts';
import { fakeRootfs, file } from '../helpers/fake-rootfs.ts';

// Layout edges and a range over the 4 MiB read-ahead window.
const SIZES = [0, 1, 4095, 4096, 30_000, 65_535, 65_536, 5 * 1024 * 1024 + 3, 12_345, 700_000];

for (const order of ['spool order', 'reverse order'] as const) {
  test(`ciphertexts packed in one spool, read in ${order}: each member is exactly its range; stored gzip`, async (t) => {
    const dir = await tempDir(t);
    const ranges = SIZES.map((n) => randomBytes(n));
    const spool = join(dir, 'spool');
    await writeFile(spool, Buffer.concat([randomBytes(100), ...ranges, randomBytes(100)]));
    // Names sort in spool order (the cconv layer lists its members depth-first by name) or against it.
    const name = (i: number) => `/data/f${String(order === 'spool order' ? i : SIZES.length - i).padStart(2, '0')}`;
    const encrypted: EncryptedFile[] = [];
    let offset = 100;
    ranges.forEach((r, i) => {
      encrypted.push({ path: name(i), ciphertextFile: spool, offset, size: r.length });
      offset += r.length;
    });
    const rootfs = fakeRootfs(ranges.map((_, i) => file(name(i), 'plaintext', 0o640)));
    const out = join(dir, 'layer');
    const layer = await buildCconvLayer({ files: [], encrypted, createDirs: [], sourceRootfs: rootfs, lowerType: (p) => rootfs.get(p)?.type, epoch: 0, file: out });
    const blob = await readFile(out);
    const tar = gunzipSync(blob);
    t.is(layer.tarSize, tar.length);
    t.is(blob.length, 10 + 5 * Math.ceil(tar.length / 65_535) + tar.length + 5 + 8, 'stored blocks of 65,535 bytes');
    const members = new Map((await tarMembers(blob)).map((m) => [`/${m.name}`, m]));
    ranges.forEach((r, i) => {
      const m = members.get(name(i));
      t.truthy(m, name(i));
      t.true(m!.content.equals(r), `${name(i)}: ${r.length} bytes`);
      t.is(m!.mode, 0o640);
    });
  });
}

test('without ciphertexts the cconv layer is deflated', async (t) => {
  const dir = await tempDir(t);
  const rootfs = fakeRootfs([file('/app/run', 'x')]);
  const manifest = Buffer.from('[loader]\n'.repeat(10_000));
  const out = join(dir, 'layer');
  const layer = await buildCconvLayer({ files: [{ path: '/cconv/app.manifest.sgx', content: manifest, mode: 0o444 }], encrypted: [], createDirs: [], sourceRootfs: rootfs, lowerType: (p) => rootfs.get(p)?.type, epoch: 0, file: out });
  t.true(layer.descriptor.size < layer.tarSize / 10, `${layer.descriptor.size} of ${layer.tarSize}`);
  t.true(gunzipSync(await readFile(out)).includes(manifest));
});
