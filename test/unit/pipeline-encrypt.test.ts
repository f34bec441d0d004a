/**
 * encryptSelected over a fake rootfs with many files: small ones (read whole and encrypted in the
 * background), ones over the buffering threshold (streamed), and the sizes where the protected-file
 * layout changes (0, 3072, 3073, one full MHT group). Every ciphertext must decrypt, with the
 * in-image path as bound path, to its exact plaintext; results come sorted by path, each with its
 * exact range of the one spool file (ranges back to back, depth-first by name: the order the
 * assembler's cconv layer reads them in); close() removes the temp dir; a failure in the middle
 * (an input stream that errors, a size that lies, an fs error in a background encryption) fails
 * the call and leaves nothing in the temp dir's parent. And
 * BatchEncryptor, which runs the background batches: a failing batch stops what comes next.
 */
import test from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { decryptToBuffer, encryptedSize, SecretKey } from '../../src/encrypt/index.ts';
import { encryptSelected } from '../../src/pipeline/index.ts';
import { BatchEncryptor, ENCRYPT_BATCH_BYTES } from '../../src/pipeline/encrypt.ts';
import { withFileSizeLimit } from '../helpers/rlimit.ts';
import type { SelectedFile } from '../../src/policy/index.ts';
import type { ProgressEvent } from '../../src/progress.ts';
import { comparePaths } from '../../src/rootfs/index.ts';
import type { Rootfs, RootfsEntry } from '../../src/rootfs/types.ts';
import { fakeRootfs, file, symlink } from '../helpers/fake-rootfs.ts';

const KEY = new SecretKey(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
const THRESHOLD = 64 * 1024;

/** Deterministic, incompressible bytes: AES-128-CTR keystream under sha256(seed). */
function bytes(seed: string, size: number): Buffer {
  const k = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-128-ctr', k.subarray(0, 16), k.subarray(16)).update(Buffer.alloc(size));
}

/** 151 files: layout boundaries, a spread of small sizes, and some over THRESHOLD (streamed). */
let cached: Map<string, Buffer> | undefined;
function tree(): Map<string, Buffer> {
  cached ??= makeTree();
  return new Map(cached);
}
function makeTree(): Map<string, Buffer> {
  const sizes = [0, 1, 3071, 3072, 3073, 4096, 3072 + 96 * 4096, 3072 + 96 * 4096 + 1, THRESHOLD, THRESHOLD + 1, 200_000, 1_300_000];
  for (let i = 0; sizes.length < 150; i++) sizes.push((i * 7919) % 50_000);
  const files = new Map<string, Buffer>();
  // Names chosen so that tree order (the fake's delivery order) differs from the sorted result order.
  sizes.forEach((size, i) => files.set(`/data/${i % 7}/f${String(149 - i).padStart(3, '0')}.bin`, bytes(`f${i}`, size)));
  files.set('/app/z-last', bytes('last', 10));
  return files;
}

function selection(files: Map<string, Buffer>): SelectedFile[] {
  return [...files].map(([path, c]) => ({ path, uri: `file:${path}`, sha256: createHash('sha256').update(c).digest('hex'), size: c.length }));
}

/**
 * Wraps a rootfs so that each content arrives in 1000-byte chunks, calls `onFile` before each
 * delivery (its 1-based count), and lets `fail` replace a file's content by a stream that errors
 * after its first chunk.
 */
function chunked(inner: Rootfs, hooks: { fail?: string; onFile?: (n: number) => Promise<void> } = {}): Rootfs & { delivered: number } {
  const wrapped = Object.create(inner) as Rootfs & { delivered: number };
  wrapped.delivered = 0;
  wrapped.readContents = (select, visitor) =>
    inner.readContents(select, async (e: RootfsEntry, content: Readable) => {
      const whole: Buffer[] = [];
      for await (const c of content) whole.push(c as Buffer);
      const all = Buffer.concat(whole);
      wrapped.delivered++;
      await hooks.onFile?.(wrapped.delivered);
      const failing = `/${e.path}` === hooks.fail;
      async function* gen() {
        for (let o = 0; o < all.length; o += 1000) {
          yield all.subarray(o, o + 1000);
          if (failing) throw new Error('disk went away');
        }
        if (failing) throw new Error('disk went away');
      }
      await visitor(e, Readable.from(gen(), { objectMode: false }));
    });
  return wrapped;
}

test.beforeEach(async (t) => {
  t.context = await mkdtemp(join(tmpdir(), 'cconv-pipeline-encrypt-'));
});
test.afterEach.always(async (t) => {
  await rm(t.context as string, { recursive: true, force: true });
});

async function checkAll(t: import('ava').ExecutionContext, files: Map<string, Buffer>, options: { bufferMax?: number; concurrency?: number }) {
  const tmp = t.context as string;
  const events: ProgressEvent[] = [];
  const rootfs = chunked(fakeRootfs([...files].map(([p, c]) => file(p, c))));
  const sel = selection(files);
  const r = await encryptSelected(rootfs, sel, KEY, { tmpDir: tmp, report: (e) => events.push(e), ...options });
  const total = [...files.values()].reduce((n, c) => n + c.length, 0);
  t.is(r.bytes, total);
  t.deepEqual(r.files.map((f) => f.path), [...files.keys()].sort());
  t.is(rootfs.delivered, files.size);
  const spool = await readFile(r.files[0]!.ciphertextFile);
  let offset = 0;
  for (const s of [...sel].sort((a, b) => comparePaths(a.path.slice(1), b.path.slice(1)))) {
    const f = r.files.find((x) => x.path === s.path)!;
    const plain = files.get(f.path)!;
    t.is(f.ciphertextFile, r.files[0]!.ciphertextFile);
    t.is(f.offset, offset, f.path);
    t.is(f.size, encryptedSize(plain.length), f.path);
    offset += f.size;
    const ct = spool.subarray(f.offset, f.offset! + f.size);
    t.true((await decryptToBuffer(ct, { key: KEY.expose(), path: f.path })).equals(plain), f.path);
  }
  t.is(spool.length, offset);
  // Progress: one task, advanced by exactly the plaintext bytes.
  t.deepEqual(events.filter((e) => e.type !== 'advance').map((e) => e.type), ['start', 'done']);
  t.is(events.reduce((n, e) => n + (e.type === 'advance' ? e.amount : 0), 0), total);
  t.is((await readdir(tmp)).length, 1);
  await r.close();
  t.deepEqual(await readdir(tmp), []);
}

test('small files in the background and large ones streamed: every ciphertext decrypts to its plaintext, sorted, removed by close()', async (t) => {
  await checkAll(t, tree(), { bufferMax: THRESHOLD, concurrency: 4 });
});

test('the defaults (files up to 4 MiB buffered, batches of 1 MiB, 8 in flight within 16 MiB) give the same plaintexts back', async (t) => {
  await checkAll(t, tree(), {});
});

test('every file streamed (bufferMax 0) and one at a time (concurrency 1) give the same plaintexts back', async (t) => {
  await checkAll(t, tree(), { bufferMax: 0 });
  await checkAll(t, tree(), { concurrency: 1 });
});

for (const [name, path] of [['buffered', '/data/3/f146.bin'], ['streamed', '/data/4/f138.bin']] as const) {
  test(`an input stream failing in the middle (${name} file) fails with E_IO naming the in-image path; the temp dir is removed`, async (t) => {
    const files = tree();
    t.is(files.get(path)!.length > THRESHOLD, name === 'streamed');
    t.true(files.get(path)!.length > 1000);
    const rootfs = chunked(fakeRootfs([...files].map(([p, c]) => file(p, c))), { fail: path });
    const err = await t.throwsAsync(encryptSelected(rootfs, selection(files), KEY, { tmpDir: t.context as string, report: () => {}, bufferMax: THRESHOLD }), { code: 'E_IO' } as never);
    t.is(err!.message, `cannot read ${path} in the image: disk went away`);
    t.true(rootfs.delivered < files.size);
    t.deepEqual(await readdir(t.context as string), []);
  });
}

for (const [name, path] of [['buffered', '/data/3/f146.bin'], ['streamed', '/data/0/f142.bin']] as const) {
  test(`a content longer than its selected size (${name} file) fails with E_SIZE_MISMATCH naming the path and leaves nothing`, async (t) => {
    const files = tree();
    t.is(files.get(path)!.length > THRESHOLD, name === 'streamed');
    const sel = selection(files).map((f) => (f.path === path ? { ...f, size: f.size - 1 } : f));
    const rootfs = chunked(fakeRootfs([...files].map(([p, c]) => file(p, c))));
    const err = await t.throwsAsync(encryptSelected(rootfs, sel, KEY, { tmpDir: t.context as string, report: () => {}, bufferMax: THRESHOLD }), { code: 'E_SIZE_MISMATCH' } as never);
    t.true(err!.message.startsWith(`${path} in the image`), err!.message);
    t.deepEqual(await readdir(t.context as string), []);
  });
}

test.serial('an fs error while a file is streamed into the spool fails the whole call with E_IO, stops the content pass and leaves nothing', async (t) => {
  const files = tree();
  const tmp = t.context as string;
  // Streamed files are written by FileHandle writes: from the 20th on, they fail as on a full disk
  // (serial: no other test runs meanwhile). Buffered files may go to the native encoder's pwrite.
  const probe = await open(join(tmp, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown>; writev: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  await rm(join(tmp, 'probe'));
  const { write, writev } = proto;
  let writes = 0;
  const failing = (orig: (...a: unknown[]) => Promise<unknown>) =>
    function (this: unknown, ...args: unknown[]) {
      if (++writes >= 20) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      return orig.apply(this, args);
    };
  proto.write = failing(write);
  proto.writev = failing(writev);
  try {
    const rootfs = chunked(fakeRootfs([...files].map(([p, c]) => file(p, c))));
    const events: ProgressEvent[] = [];
    await t.throwsAsync(encryptSelected(rootfs, selection(files), KEY, { tmpDir: tmp, report: (e) => events.push(e), bufferMax: 0 }), { code: 'E_IO', message: /^cannot write .*ciphertexts\.pf \(ciphertext of \/data\// } as never);
    t.true(rootfs.delivered < 30, `delivered ${rootfs.delivered}`);
    t.deepEqual(events.filter((e) => e.type === 'fail').length, 1);
  } finally {
    proto.write = write;
    proto.writev = writev;
  }
  t.deepEqual(await readdir(tmp), []);
});

test('a file that cannot be bound (a path too long) fails the whole call, stops the content pass and leaves nothing', async (t) => {
  const files = tree();
  const long = `/app/${'x'.repeat(800)}`; // over the 771 bytes a protected file can bind; delivered first
  files.set(long, bytes('long', 5000));
  const rootfs = chunked(fakeRootfs([...files].map(([p, c]) => file(p, c))));
  const events: ProgressEvent[] = [];
  await t.throwsAsync(encryptSelected(rootfs, selection(files), KEY, { tmpDir: t.context as string, report: (e) => events.push(e), bufferMax: 4 << 20, concurrency: 4 }), {
    code: 'E_USAGE',
    message: 'protected file path is 805 bytes; at most 771 fit',
  } as never);
  t.true(rootfs.delivered < files.size, `delivered ${rootfs.delivered}`);
  t.deepEqual(events.filter((e) => e.type === 'fail').length, 1);
  t.deepEqual(await readdir(t.context as string), []);
});

test('a selected symlink is refused before anything is written', async (t) => {
  const rootfs = fakeRootfs([file('/a', 'x'), symlink('/l', '/a')]);
  const sel: SelectedFile[] = [{ path: '/l', uri: 'file:/l', sha256: createHash('sha256').update('x').digest('hex'), size: 1, target: '/a' }];
  await t.throwsAsync(encryptSelected(rootfs, sel, KEY, { tmpDir: t.context as string, report: () => {} }), { code: 'E_UNSUPPORTED' } as never);
  t.deepEqual(await readdir(t.context as string), []);
});

test.serial('BatchEncryptor: a batch failing in the background stops the next reserve with its error; only the files of completed batches are reported; every plaintext is wiped', async (t) => {
  const path = join(t.context as string, 'spool');
  const file = await open(path, 'w+');
  const batches = new BatchEncryptor(file, KEY.expose(), { concurrency: 1, wipe: true });
  const size = 300_000; // 3 files per batch of ENCRYPT_BATCH_BYTES
  t.is(Math.floor(ENCRYPT_BATCH_BYTES / size), 3);
  const plains: Buffer[] = [];
  const done: number[] = [];
  let offset = 0;
  // The 5th file (in the second batch) lies past the file size limit: that batch fails in the background.
  const limit = 4 * encryptedSize(size);
  const err = await withFileSizeLimit(limit, async () => {
    try {
      for (let i = 0; i < 20; i++) {
        await batches.reserve(size);
        const plain = bytes(`b${i}`, size);
        plains.push(plain);
        batches.add(plain, { file, offset, name: `spool (file ${i})` }, { path: `/b${i}`, size }, () => done.push(i));
        offset += encryptedSize(size);
      }
      await batches.finish();
    } catch (e) {
      await batches.abandon();
      return e as Error & { code?: string };
    } finally {
      await file.close();
    }
    return undefined;
  });
  t.is(err?.code, 'E_IO');
  t.is(err?.message, 'cannot write spool (file 4): EFBIG');
  t.deepEqual(done, [0, 1, 2], 'the first batch only');
  t.true(plains.length < 20, `stopped after ${plains.length} files`);
  for (const p of plains) t.true(p.equals(Buffer.alloc(size)), 'wiped');
  const spool = await readFile(path);
  t.true((await decryptToBuffer(spool.subarray(0, encryptedSize(size)), { key: KEY.expose(), path: '/b0' })).equals(bytes('b0', size)));
});
