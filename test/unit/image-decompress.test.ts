import test from 'ava';
import { Readable, type Duplex } from 'node:stream';
import { ZstdDecompressor, createDecompressor } from '../../src/image/decompress.ts';
import { ZstdBlockSplitter } from '../../src/image/zstd-split.ts';
import { compress } from '../helpers/oci-builder.ts';

// 1 MiB of varied bytes: zstd cuts it into 128 KiB blocks (at least 8).
const varied = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => ((i * 2654435761) >>> 13) & 0xff));
const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);

function splitAll(data: Buffer, chunk: number): Buffer[] {
  const s = new ZstdBlockSplitter();
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) pieces.push(...s.split(data.subarray(i, i + chunk)));
  return pieces;
}

test('splitter pieces concatenate to the input and end at block boundaries', (t) => {
  const z = Buffer.concat([skippable, compress(varied, 'zstd'), compress(Buffer.from('tail'), 'zstd')]);
  const whole = splitAll(z, z.length);
  t.deepEqual(Buffer.concat(whole), z);
  t.true(whole.length >= 9, `${whole.length} pieces`);
  for (const chunk of [1, 3, 4096]) {
    const pieces = splitAll(z, chunk);
    t.deepEqual(Buffer.concat(pieces), z);
    // Cut points do not depend on how the input was chunked.
    const cuts = new Set<number>();
    let at = 0;
    for (const p of whole) cuts.add((at += p.length));
    at = 0;
    const seen = new Set<number>();
    for (const p of pieces) seen.add((at += p.length));
    for (const c of cuts) t.true(seen.has(c), `cut at ${c} with ${chunk}-byte chunks`);
  }
});

test('splitter passes non-zstd input through whole', (t) => {
  const junk = Buffer.from('not zstd at all, just text');
  t.deepEqual(splitAll(junk, 5).map((b) => b.toString()).join(''), junk.toString());
  t.is(new ZstdBlockSplitter().split(junk).length, 1);
});

async function decode(input: Buffer[], readSlowly = false, d: Duplex = new ZstdDecompressor()): Promise<{ out: Buffer; maxBuffered: number }> {
  Readable.from(input).pipe(d);
  const chunks: Buffer[] = [];
  let maxBuffered = 0;
  for await (const c of d) {
    chunks.push(c as Buffer);
    // for-await reads whatever is buffered at once, so a chunk's size is what was held in memory.
    maxBuffered = Math.max(maxBuffered, (c as Buffer).length + d.readableLength);
    if (readSlowly) await new Promise((r) => setImmediate(r));
  }
  return { out: Buffer.concat(chunks), maxBuffered };
}

test('decodes frames with a skippable frame between them', async (t) => {
  const z = Buffer.concat([compress(varied, 'zstd'), skippable, compress(Buffer.from('tail'), 'zstd')]);
  t.deepEqual((await decode([z])).out, Buffer.concat([varied, Buffer.from('tail')]));
});

test('zstd: a highly compressible layer does not expand in memory', async (t) => {
  const zeros = Buffer.alloc(48 * 1024 * 1024);
  const z = compress(zeros, 'zstd');
  t.true(z.length < 4096, `compressed to ${z.length} bytes`);
  const { out, maxBuffered } = await decode([z], true); // the whole layer arrives as one chunk
  t.is(out.length, zeros.length);
  t.true(out.equals(zeros));
  t.true(maxBuffered <= 512 * 1024, `max buffered ${maxBuffered}`);
});

test('gzip: a highly compressible layer does not expand in memory either', async (t) => {
  const zeros = Buffer.alloc(48 * 1024 * 1024);
  const { out, maxBuffered } = await decode([compress(zeros, 'gzip')], true, createDecompressor('gzip'));
  t.is(out.length, zeros.length);
  t.true(maxBuffered <= 512 * 1024, `max buffered ${maxBuffered}`);
});

test('truncation and garbage are errors', async (t) => {
  const z = compress(varied, 'zstd');
  await t.throwsAsync(decode([z.subarray(0, z.length - 10)]));
  await t.throwsAsync(decode([Buffer.concat([z.subarray(0, 100), Buffer.alloc(5000, 0xaa)])]));
});
