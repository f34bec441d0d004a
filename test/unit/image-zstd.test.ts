import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { ZstdDecompressor, createDecompressor, type ZstdBackend } from '../../src/image/decompress.ts';
import { ZstdCliDecompressor, zstdCliAvailable } from '../../src/image/zstd-cli.ts';
import { xorshiftBytes } from '../helpers/oci-builder.ts';

// 3 MB of pseudo-random 6-bit bytes (xorshift32, fixed seed): compresses to ~2.3 MB, so there are
// many 128 KiB zstd blocks and many 64 KiB file-stream chunks.
const data = xorshiftBytes(3_000_000, 0x9e3779b9, 0x3f);
const zst = (input: Buffer, level = 3) => execFileSync('zstd', ['-q', `-${level}`, '-c'], { input, maxBuffer: 1 << 28 });
const packed = zst(data);

async function withFile(t: { teardown: (fn: () => Promise<void>) => void }, bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-zstd-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'blob.zst');
  await writeFile(file, bytes);
  return file;
}

async function forAwait(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Consumes with read() on 'readable' only (no 'data' listener), as the stalled consumers did. */
function readLoop(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('readable', () => {
      let c: Buffer | null;
      while ((c = stream.read() as Buffer | null) !== null) chunks.push(c);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

for (const backend of ['js', 'cli'] as ZstdBackend[]) {
  test(`${backend}: a multi-MB file stream decodes whole with for-await and with read() (was: stall after 131072 bytes)`, async (t) => {
    const file = await withFile(t, packed);
    t.true(packed.length > 1_000_000, `${packed.length} compressed bytes`);
    const viaIterator = await forAwait(createReadStream(file).pipe(createDecompressor('zstd', { zstd: backend })));
    t.is(viaIterator.length, data.length);
    t.true(viaIterator.equals(data));
    const viaRead = await readLoop(createReadStream(file).pipe(createDecompressor('zstd', { zstd: backend })));
    t.true(viaRead.equals(data));
  });

  test(`${backend}: truncated and corrupt input are stream errors`, async (t) => {
    const decode = (input: Buffer) => forAwait(Readable.from([input]).pipe(createDecompressor('zstd', { zstd: backend })));
    await t.throwsAsync(decode(packed.subarray(0, packed.length - 1000)));
    const badHeader = Buffer.from(packed);
    badHeader[4] = 0xff; // frame header descriptor with its reserved bit set
    await t.throwsAsync(decode(badHeader));
  });
}

test('the default backend is the CLI when zstd is on PATH, fzstd when the command is missing', (t) => {
  const kinds = (options: Parameters<typeof createDecompressor>[1]) => {
    const d = createDecompressor('zstd', options);
    d.destroy(); // a CLI decoder's child waits for input until then
    return d.constructor;
  };
  t.true(zstdCliAvailable('zstd'));
  t.is(kinds({}), ZstdCliDecompressor);
  t.false(zstdCliAvailable('/nonexistent/zstd'));
  t.is(kinds({ zstdCommand: '/nonexistent/zstd' }), ZstdDecompressor);
  t.is(kinds({ zstd: 'js' }), ZstdDecompressor);
});

test('cli: a missing command is a stream error, not a crash', async (t) => {
  const d = createDecompressor('zstd', { zstd: 'cli', zstdCommand: '/nonexistent/zstd' });
  const err = await t.throwsAsync(forAwait(Readable.from([packed]).pipe(d)));
  t.regex(err!.message, /^cannot run \/nonexistent\/zstd: ENOENT/);
});

test('cli: the error names zstd and its exit status; damaged content fails its checksum', async (t) => {
  const err = await t.throwsAsync(forAwait(Readable.from([Buffer.from('not zstd at all')]).pipe(new ZstdCliDecompressor())));
  t.regex(err!.message, /^zstd failed \(exit status 1\)/);
  // fzstd does not check frame checksums (the layer's diff_id check catches such damage); zstd does.
  const damaged = Buffer.from(packed);
  damaged.fill(0xaa, 500_000, 504_000);
  await t.throwsAsync(forAwait(Readable.from([damaged]).pipe(new ZstdCliDecompressor())));
});

test('cli: destroying the stream kills the child', async (t) => {
  // 256 MiB of zeros: the child blocks writing to its stdout, which nobody reads.
  const bomb = zst(Buffer.alloc(256 * 1024 * 1024), 1);
  const d = new ZstdCliDecompressor();
  t.true(typeof d.pid === 'number');
  d.end(bomb); // zstd reads its input in 128 KiB blocks: it starts once stdin ends
  await new Promise((r) => d.once('readable', r));
  d.destroy();
  await d.exited;
  t.throws(() => process.kill(d.pid!, 0), { code: 'ESRCH' });
});

test('js: decoding a stream whose consumer pauses between blocks keeps memory bounded', async (t) => {
  // 64 MiB of zeros in one input chunk: output must still come out block by block.
  const d: Duplex = new ZstdDecompressor();
  Readable.from([zst(Buffer.alloc(64 * 1024 * 1024), 1)]).pipe(d);
  let total = 0;
  let maxBuffered = 0;
  for await (const c of d) {
    total += (c as Buffer).length;
    maxBuffered = Math.max(maxBuffered, (c as Buffer).length + d.readableLength);
    await new Promise((r) => setImmediate(r));
  }
  t.is(total, 64 * 1024 * 1024);
  t.true(maxBuffered <= 512 * 1024, `max buffered ${maxBuffered}`);
});
