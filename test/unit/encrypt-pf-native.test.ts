/**
 * The native protected-file encoder (build/pf_native.node, built by scripts/build-native.sh, which
 * the test command runs): what it writes decrypts with cconv's reader (itself checked against
 * Gramine's vectors) for the sizes where the layout changes, up to a two-level Merkle tree; a write
 * it cannot do is E_IO naming the target.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptToBuffer, encryptAt, encryptedSize, nodeCounts, readPfInfo } from '../../src/encrypt/index.ts';
import { nativeEncode } from '../../src/encrypt/pf/native.ts';

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
  t.is(typeof nativeEncode, 'function');
});

test('files of every layout, packed into one file at their offsets, decrypt to their plaintexts with their bound paths', async (t) => {
  // Metadata only; one data node; a full MHT group and one more; the first child MHT; 34 MHT nodes (a second level).
  const sizes = [0, 1, MD - 1, MD, MD + 1, MD + NODE, MD + 96 * NODE, MD + 96 * NODE + 1, MD + 97 * NODE, MD + 33 * 96 * NODE + 5];
  const plains = sizes.map((s) => randomBytes(s));
  const path = join(t.context as string, 'spool');
  const file = await open(path, 'w+');
  const offsets: number[] = [];
  let offset = 0;
  const results = await Promise.all(
    plains.map((p, i) => {
      offsets.push(offset);
      const target = { file, offset, name: `spool (${i})` };
      offset += encryptedSize(p.length);
      return encryptAt(p, target, { key: KEY, path: `/app//data/./f${i}`, size: p.length, memoryMax: 64 << 20 });
    }),
  );
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
