/**
 * StoredGzip (the gzip of the layer holding ciphertexts): what it writes is gzip that zlib and the
 * gzip tool decompress to the input (so the CRC-32 and length are right), with the exact
 * stored-block framing, and the same bytes however the input is chunked.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { StoredGzip } from '../../src/assemble/stored-gzip.ts';

async function storedGzip(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    new StoredGzip(),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(Buffer.from(c));
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Splits `b` at pseudo-random points (1 byte to 100 KB). */
function chop(b: Buffer, seed: number): Buffer[] {
  const parts: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < b.length; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % 100_000);
    parts.push(b.subarray(at, at + n));
    at += n;
  }
  return parts;
}

const BLOCK = 65535;

for (const size of [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 1_000_003]) {
  test(`${size} bytes: exact framing, decompresses to the input, same bytes whatever the chunking`, async (t) => {
    const input = randomBytes(size);
    const whole = await storedGzip(size === 0 ? [] : [input]);
    const blocks = Math.ceil(size / BLOCK);
    t.is(whole.length, 10 + blocks * 5 + size + 5 + 8);
    t.deepEqual([...whole.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    // First block header: not final, stored, LEN and its complement.
    if (size > 0) {
      const len = Math.min(size, BLOCK);
      t.deepEqual([...whole.subarray(10, 15)], [0, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff]);
    }
    t.deepEqual([...whole.subarray(whole.length - 13, whole.length - 8)], [1, 0, 0, 0xff, 0xff]); // empty final block
    t.is(whole.readUInt32LE(whole.length - 4), size);
    t.true(gunzipSync(whole).equals(input));
    for (const seed of [1, 2, 3]) t.true((await storedGzip(chop(input, seed))).equals(whole), `chunking ${seed}`);
  });
}

test('the gzip tool accepts the stream and restores the input', async (t) => {
  const input = randomBytes(300_000);
  const gz = await storedGzip(chop(input, 7));
  const out = execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 20 });
  t.is(createHash('sha256').update(out).digest('hex'), createHash('sha256').update(input).digest('hex'));
  execFileSync('gzip', ['-t'], { input: gz });
  t.pass();
});
