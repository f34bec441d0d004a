/**
 * The native protected-file encoder (build/pf_native.node, built by scripts/build-native.sh, which
 * the test command runs) and PfBatch around it: what it writes decrypts with cconv's reader (itself
 * checked against Gramine's vectors) for the sizes where the layout changes, up to a two-level
 * Merkle tree, many files in one call; a write it cannot do is E_IO naming the file's target, and
 * nothing after it is written; plaintexts are wiped when asked, also on failure.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PfBatch, decryptToBuffer, encryptAt, encryptedSize, nodeCounts, readPfInfo } from '../../src/encrypt/index.ts';
import { withFileSizeLimit } from '../helpers/rlimit.ts';
import { native } from '../../src/encrypt/pf/native.ts';

const KEY = randomBytes(16);
const NODE = 4096;
const MD = 3072;

test.beforeEach(async (t) => {
  t.context = await mkdtemp(join(tmpdir(), 'cconv-pf-native-'));
});
test.afterEach.always(async (t) => {
  await rm(t.context as string, { recursive: true, force: true });
});

test('the native encoder is built (scripts/build-native.sh, run by npm test)', (t) => {
  t.is(typeof native?.encodeFiles, 'function');
  t.is(typeof native?.sealGroup, 'function');
});

test('files of every layout, in one batch packed into one file at their offsets, decrypt to their plaintexts with their bound paths', async (t) => {
  // Metadata only; one data node; a full MHT group and one more; the first child MHT; 34 MHT nodes (a second level).
  const sizes = [0, 1, MD - 1, MD, MD + 1, MD + NODE, MD + 96 * NODE, MD + 96 * NODE + 1, MD + 97 * NODE, MD + 33 * 96 * NODE + 5];
  const plains = sizes.map((s) => randomBytes(s));
  const path = join(t.context as string, 'spool');
  const file = await open(path, 'w+');
  const batch = new PfBatch(file, KEY, { wipe: false });
  // In reverse order of offsets: each file lands at its own offset, whatever the order of the batch.
  const offsets: number[] = [];
  let offset = 0;
  for (const p of plains) {
    offsets.push(offset);
    offset += encryptedSize(p.length);
  }
  for (let i = plains.length - 1; i >= 0; i--) batch.add(plains[i]!, { file, offset: offsets[i]!, name: `spool (${i})` }, { path: `/app//data/./f${i}`, size: plains[i]!.length });
  t.is(batch.files, plains.length);
  t.is(batch.bytes, sizes.reduce((a, b) => a + b, 0));
  const results = (await batch.run()).reverse();
  await file.close();
  const spool = await readFile(path);
  t.is(spool.length, offset);
  for (const [i, p] of plains.entries()) {
    t.deepEqual(results[i], { size: p.length, nodes: nodeCounts(p.length).total, path: `/app/data/f${i}` });
    const ct = spool.subarray(offsets[i], offsets[i]! + encryptedSize(p.length));
    t.true((await decryptToBuffer(ct, { key: KEY, path: `/app/data/f${i}` })).equals(p), `size ${p.length}`);
    const info = await readPfInfo(ct, { key: KEY });
    t.like(info, { header: { major: 2, minor: 0, flags: 0 }, metadata: { size: p.length, path: `/app/data/f${i}` } });
  }
});

test('a batch checks each file as it is added: a path that does not fit is E_USAGE, a wrong size E_SIZE_MISMATCH naming the source', async (t) => {
  const file = await open(join(t.context as string, 'f'), 'w');
  try {
    const batch = new PfBatch(file, KEY, { wipe: false });
    t.throws(() => batch.add(Buffer.alloc(1), { file, offset: 0, name: 'f' }, { path: `/${'x'.repeat(771)}` }), { code: 'E_USAGE', message: 'protected file path is 772 bytes; at most 771 fit' } as never);
    t.throws(() => batch.add(Buffer.alloc(5), { file, offset: 0, name: 'f' }, { path: '/a', size: 6, source: '/a in the image' }), { code: 'E_SIZE_MISMATCH', message: '/a in the image: plaintext is 5 bytes, declared 6' } as never);
    t.is(batch.files, 0);
    t.throws(() => new PfBatch(file, Buffer.alloc(15), { wipe: false }), { code: 'E_USAGE' } as never);
  } finally {
    await file.close();
  }
});

test.serial('a batch whose third file cannot be written fails with E_IO naming that file; the files before it are written, none after; every plaintext is wiped', async (t) => {
  const path = join(t.context as string, 'spool');
  const file = await open(path, 'w+');
  const plains = [randomBytes(10_000), randomBytes(5000), randomBytes(5000), randomBytes(5000)];
  const copies = plains.map((p) => Buffer.from(p));
  // Files 0 and 1 back to back (under the limit), file 2 at 1 MiB (past it), file 3 after file 1 (under it, but after the failure).
  const end1 = encryptedSize(10_000) + encryptedSize(5000);
  const offsets = [0, encryptedSize(10_000), 1 << 20, end1];
  const batch = new PfBatch(file, KEY, { wipe: true });
  plains.forEach((p, i) => batch.add(p, { file, offset: offsets[i]!, name: `spool (file ${i})` }, { path: `/f${i}` }));
  try {
    await withFileSizeLimit(64 << 10, () => t.throwsAsync(batch.run(), { code: 'E_IO', message: 'cannot write spool (file 2): EFBIG' } as never));
  } finally {
    await file.close();
  }
  for (const p of plains) t.true(p.equals(Buffer.alloc(p.length)), 'plaintext wiped');
  const spool = await readFile(path);
  t.is(spool.length, end1, 'nothing written after the failure');
  for (const i of [0, 1]) {
    const ct = spool.subarray(offsets[i], offsets[i]! + encryptedSize(copies[i]!.length));
    t.true((await decryptToBuffer(ct, { key: KEY, path: `/f${i}` })).equals(copies[i]!));
  }
});

test('a batch run with wipe zeroes its plaintexts once written; without it leaves them', async (t) => {
  for (const wipe of [true, false]) {
    const file = await open(join(t.context as string, `w-${wipe}`), 'w');
    const plains = [randomBytes(100), randomBytes(50_000)];
    const batch = new PfBatch(file, KEY, { wipe });
    plains.forEach((p, i) => batch.add(p, { file, offset: i * (64 << 10), name: 'w' }, { path: `/w${i}` }));
    await batch.run();
    await file.close();
    for (const p of plains) t.is(p.equals(Buffer.alloc(p.length)), wipe);
  }
});

test('two encryptions of the same plaintext differ (fresh node keys and nonce), both decrypt', async (t) => {
  const dir = t.context as string;
  const plain = randomBytes(50_000);
  const outs: Buffer[] = [];
  for (const n of [1, 2]) {
    const file = await open(join(dir, `f${n}`), 'w');
    await encryptAt(plain, { file, offset: 0, name: 'f' }, { key: KEY, path: '/p' });
    await file.close();
    outs.push(await readFile(join(dir, `f${n}`)));
  }
  t.false(outs[0]!.equals(outs[1]!));
  for (const o of outs) t.true((await decryptToBuffer(o, { key: KEY, path: '/p' })).equals(plain));
});

test('a write the encoder cannot do is E_IO naming the target', async (t) => {
  const path = join(t.context as string, 'ro');
  await writeFile(path, '');
  const file = await open(path, 'r');
  try {
    await t.throwsAsync(encryptAt(randomBytes(100), { file, offset: 0, name: 'the read-only spool' }, { key: KEY, path: '/x', size: 100 }), {
      code: 'E_IO',
      message: 'cannot write the read-only spool: EBADF',
    } as never);
  } finally {
    await file.close();
  }
});
