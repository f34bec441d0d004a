/**
 * Memory benchmark of the rootfs view: flattens a generated 2 GB image (2 layers, 20,000 files of
 * 100 KiB in 200 directories) streamed from a generator, nothing on disk, and prints the peak RSS.
 * Run: node --import=tsx bench/rootfs-mem.ts [files] [fileSize]
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Layer } from '../src/image/image.ts';
import type { Digest } from '../src/image/types.ts';
import { flatten } from '../src/rootfs/index.ts';

const FILES = Number(process.argv[2] ?? 20_000);
const SIZE = Number(process.argv[3] ?? 100 * 1024);
const LAYERS = 2;

/** A ustar header block for a regular file. */
function header(name: string, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('14524770400\0', 136, 'latin1');
  b.write('0', 156, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  b.write('        ', 148, 'latin1');
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** Streams one layer's tar: `count` files starting at number `first`, 64 KiB data chunks. */
async function* layerTar(first: number, count: number): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  for (let i = first; i < first + count; i++) {
    yield header(`usr/share/d${String(i % 200).padStart(3, '0')}/file-${String(i).padStart(6, '0')}.bin`, SIZE);
    for (let left = SIZE; left > 0; left -= chunk.length) {
      const c = Buffer.from(chunk.subarray(0, Math.min(left, chunk.length)));
      c.writeUInt32BE(i, 0); // distinct contents
      yield c;
    }
    const pad = (512 - (SIZE % 512)) % 512;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(1024);
}

const per = Math.ceil(FILES / LAYERS);
const layers: Layer[] = Array.from({ length: LAYERS }, (_, index) => {
  const digest = `sha256:${createHash('sha256').update(`bench-${index}`).digest('hex')}` as Digest;
  return {
    index,
    descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 0 },
    diffId: digest,
    compression: 'none',
    openCompressed: async () => Readable.from(layerTar(index * per, per), { objectMode: false }),
    openUncompressed: async () => Readable.from(layerTar(index * per, per), { objectMode: false }),
  } satisfies Layer;
});

const before = process.memoryUsage().heapUsed;
const t0 = process.hrtime.bigint();
const fs = await flatten({ layers });
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
global.gc?.();
const heap = process.memoryUsage().heapUsed - before;
const totals = fs.totals;
const entries = totals.files + totals.dirs;
console.log(`files ${totals.files}, dirs ${totals.dirs}, bytes ${(totals.bytes / 1e9).toFixed(2)} GB in ${secs.toFixed(1)} s (${(totals.bytes / 1e6 / secs).toFixed(0)} MB/s, sha256 on)`);
console.log(`heap retained after flatten: ${(heap / 1e6).toFixed(1)} MB (${Math.round(heap / entries)} bytes/entry${global.gc ? '' : ', run with --expose-gc for an exact figure'})`);
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
