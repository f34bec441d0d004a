// Writer: round trips through our reader at the layout's edge sizes, exact lengths, freshness.
import test from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { decryptFile, decryptToBuffer, encryptFile, encryptToFile, readPfInfo } from '../../src/encrypt/index.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const PF = new URL('pf/', VECTORS_URL);
const INDEX = JSON.parse(readFileSync(new URL('index.json', PF), 'utf8'));
const KEY = readFileSync(new URL(INDEX.wrap_key_file, PF));
const NODE = 4096;

/** Expected on-disk size, re-derived here from the README's layout description. */
function expectedLength(size: number): number {
  if (size <= 3072) return NODE;
  const data = Math.ceil((size - 3072) / NODE);
  return (1 + Math.ceil(data / 96) + data) * NODE;
}

/** Deterministic pseudo-random plaintext: an AES-CTR keystream keyed by sha256(seed). */
function plaintext(size: number, seed = 'pf'): Buffer {
  const k = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16, 32)).update(Buffer.alloc(size));
}

/** Compares big buffers by digest (ava's deepEqual is slow on megabytes). */
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('the length formula agrees with the reference ciphertexts', (t) => {
  for (const v of INDEX.vectors) t.is(expectedLength(v.plaintext_size), v.ciphertext_size, v.name);
});

// 96*4096+3072: root MHT full of data entries; +1: a second MHT node (child of the root);
// 3072+33*96*4096+1: MHT 33, the first grandchild of the root (third MHT level).
const SIZES = [0, 1, 3072, 3073, 4096, 100000, 96 * 4096 + 1, 96 * 4096 + 3072, 96 * 4096 + 3073, 3072 + 33 * 96 * 4096 + 1];

for (const size of SIZES) {
  test(`size ${size}: writer output has the exact length and decrypts to the input`, async (t) => {
    const pt = plaintext(size);
    const ct = await collect(encryptFile(pt, { key: KEY, path: '/data/enc/f.bin', size }));
    t.is(ct.length, expectedLength(size));
    t.is(sha(await decryptToBuffer(ct, { key: KEY, path: '/data/enc/f.bin' })), sha(pt));
  });
}

test('stream input in odd chunk sizes gives the same plaintext back', async (t) => {
  const size = 96 * 4096 + 3073 + 5000;
  const pt = plaintext(size, 'chunks');
  const sizes = [1, 4095, 4097, 3071, 65536, 7];
  async function* chunks() {
    for (let o = 0, k = 0; o < size; k++) {
      const n = sizes[k % sizes.length]!;
      yield new Uint8Array(pt.subarray(o, o + n));
      o += n;
    }
  }
  const ct = await collect(encryptFile(chunks(), { key: KEY, path: 'rel/f' }));
  t.is(ct.length, expectedLength(size));
  t.is(sha(await decryptToBuffer(ct, { key: KEY, path: 'rel/f' })), sha(pt));
});

test('100 MB streamed in 1 MiB chunks: the exact length, and the reader streams the same plaintext back', async (t) => {
  // The largest size, through files and streams on both sides (neither side holds it whole).
  const size = 100 * 1024 * 1024 + 12345;
  const dir = mkdtempSync(join(tmpdir(), 'cconv-pf-100m-'));
  try {
    const stream = createCipheriv('aes-128-ctr', KEY, Buffer.alloc(16));
    const sent = createHash('sha256');
    async function* chunks() {
      for (let o = 0; o < size; o += 1 << 20) {
        const c = stream.update(Buffer.alloc(Math.min(1 << 20, size - o)));
        sent.update(c);
        yield c;
      }
    }
    const out = join(dir, 'big.pf');
    const result = await encryptToFile(chunks(), out, { key: KEY, path: '/models/big.bin', size });
    t.is(result.size, size);
    t.is(statSync(out).size, expectedLength(size));
    const got = createHash('sha256');
    for await (const c of decryptFile(out, { key: KEY, path: '/models/big.bin' })) got.update(c as Buffer);
    t.is(got.digest('hex'), sent.digest('hex'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two writes of the same plaintext differ everywhere that is encrypted', async (t) => {
  const pt = plaintext(100000);
  const a = await collect(encryptFile(pt, { key: KEY, path: '/p' }));
  const b = await collect(encryptFile(pt, { key: KEY, path: '/p' }));
  t.is(a.length, b.length);
  t.deepEqual(a.subarray(0, 10), b.subarray(0, 10)); // file id and version
  for (let n = 0; n < a.length / NODE; n++) {
    const o = n === 0 ? 10 : n * NODE;
    t.notDeepEqual(a.subarray(o, o + 64), b.subarray(o, o + 64), `node ${n}`);
  }
});

test('the stored path is normalised and the metadata is as written', async (t) => {
  const pt = plaintext(5000);
  const ct = await collect(encryptFile(pt, { key: KEY, path: 'a//b/./c/../d.pf' }));
  const { header, metadata } = await readPfInfo(ct, { key: KEY });
  t.is(metadata.path, 'a/b/d.pf');
  t.is(metadata.size, 5000);
  t.is(header.major, 2);
  t.is(header.minor, 0);
  t.is(header.flags, 0);
  t.deepEqual(ct.subarray(59 + 3884, NODE), Buffer.alloc(153));
  await t.throwsAsync(decryptToBuffer(ct, { key: KEY, path: 'a/b/c/d.pf' }), { code: 'E_PF_PATH' } as never);
});

test('encryptToFile writes the file in place and reports size and nodes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cconv-pf-test-'));
  try {
    const out = join(dir, 'f.pf');
    const pt = plaintext(200000);
    const res = await encryptToFile(Readable.from([pt]), out, { key: KEY, path: out });
    t.deepEqual(res, { size: 200000, nodes: expectedLength(200000) / NODE, path: out });
    t.is(statSync(out).size, expectedLength(200000));
    t.is(sha(await decryptToBuffer(out, { key: KEY, path: out })), sha(pt));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a wrong declared size fails with E_SIZE_MISMATCH and leaves no file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cconv-pf-test-'));
  try {
    const out = join(dir, 'f.pf');
    await t.throwsAsync(encryptToFile(plaintext(10), out, { key: KEY, path: '/p', size: 11 }), { code: 'E_SIZE_MISMATCH' } as never);
    await t.throwsAsync(encryptToFile(plaintext(12), out, { key: KEY, path: '/p', size: 11 }), { code: 'E_SIZE_MISMATCH' } as never);
    t.throws(() => statSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad key or path arguments fail with E_USAGE', async (t) => {
  await t.throwsAsync(collect(encryptFile(Buffer.alloc(1), { key: Buffer.alloc(15), path: '/p' })), { code: 'E_USAGE' } as never);
  await t.throwsAsync(collect(encryptFile(Buffer.alloc(1), { key: KEY, path: `/${'x'.repeat(771)}` })), { code: 'E_USAGE' } as never);
  await t.throwsAsync(collect(encryptFile(Buffer.alloc(1), { key: KEY, path: '/a\0b' })), { code: 'E_USAGE' } as never);
  // 771 bytes is the longest path that fits
  const ct = await collect(encryptFile(Buffer.alloc(1), { key: KEY, path: `/${'x'.repeat(770)}` }));
  t.is((await readPfInfo(ct, { key: KEY })).metadata.path.length, 771);
});

test('a tampered MHT node of a three-level tree fails with E_PF_AUTH naming it', async (t) => {
  const size = 3072 + 33 * 96 * 4096 + 1;
  const ct = await collect(encryptFile(plaintext(size, 'deep'), { key: KEY, path: '/p' }));
  const mht33 = 1 + 33 * 97; // physical node of MHT 33
  ct[mht33 * NODE + 100]! ^= 1;
  const err = await t.throwsAsync(decryptToBuffer(ct, { key: KEY }), { code: 'E_PF_AUTH' } as never);
  t.regex(err!.message, new RegExp(`MHT node 33 \\(node ${mht33},`));
});

test('swapping two data nodes fails with E_PF_AUTH', async (t) => {
  const ct = await collect(encryptFile(plaintext(100000), { key: KEY, path: '/p' }));
  const n2 = Buffer.from(ct.subarray(2 * NODE, 3 * NODE));
  ct.copy(ct, 2 * NODE, 3 * NODE, 4 * NODE);
  n2.copy(ct, 3 * NODE);
  await t.throwsAsync(decryptToBuffer(ct, { key: KEY }), { code: 'E_PF_AUTH', message: /data node 0/ } as never);
});

test('a version-1 layout (no feature-flags byte) is still read', async (t) => {
  const pt = plaintext(5000);
  const v2 = await collect(encryptFile(pt, { key: KEY, path: '/p' }));
  const v1 = Buffer.from(v2);
  v1[8] = 1;
  v2.copy(v1, 58, 59, 59 + 3884);
  t.is(sha(await decryptToBuffer(v1, { key: KEY, path: '/p' })), sha(pt));
});

test('encryptToFile into a missing directory fails with E_IO', async (t) => {
  await t.throwsAsync(encryptToFile(Buffer.alloc(10), '/nonexistent/dir/f.pf', { key: KEY, path: '/p' }), { code: 'E_IO' } as never);
});

test('encryptFile removes its spool file when read to the end and when destroyed early', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cconv-pf-spool-'));
  try {
    await collect(encryptFile(plaintext(3 << 20), { key: KEY, path: '/p', tmpDir: dir }));
    t.deepEqual(readdirSync(dir), []);
    const s = encryptFile(plaintext(3 << 20), { key: KEY, path: '/p', tmpDir: dir });
    const closed = new Promise((resolve) => s.once('close', resolve));
    for await (const c of s) {
      t.true((c as Buffer).length > 0);
      break; // destroys the stream
    }
    await closed;
    t.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
