import test from 'ava';
import { Readable } from 'node:stream';
import { CconvError } from '../../src/errors.ts';
import type { Descriptor, Digest } from '../../src/image/types.ts';
import { EarlyBlobs } from '../../src/pipeline/early-blobs.ts';
import { silentReporter } from '../../src/progress.ts';
import type { ImageDestination } from '../../src/transports/types.ts';

const desc = (n: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest, size: 3 });

/** A destination that records calls; putBlob reads the stream to its end (or fails with it). */
function recorder(has: Set<string> = new Set(), concurrentBlobs?: number) {
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  const dest = {
    ...(concurrentBlobs !== undefined ? { concurrentBlobs } : {}),
    hasBlob: async (d: Descriptor) => has.has(d.digest),
    putBlob: async (d: Descriptor, content: Readable) => {
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        for await (const _ of content) void _;
        calls.push(`put ${d.digest.slice(7, 8)}`);
      } finally {
        active--;
      }
    },
  } as unknown as ImageDestination;
  return { dest, calls, maxActive: () => maxActive };
}

test('blobs are put one at a time in the order asked; repeats and blobs the destination has are skipped', async (t) => {
  const r = recorder(new Set([desc(2).digest]));
  const early = new EarlyBlobs(r.dest, silentReporter);
  t.false(early.used);
  for (const n of [1, 2, 3, 1, 4]) early.put(desc(n), async () => Readable.from([Buffer.from('abc')]));
  t.true(early.used);
  await early.settle();
  t.deepEqual(r.calls, ['put 1', 'put 3', 'put 4']);
  t.is(r.maxActive(), 1);
});

test('a destination that takes blobs in parallel gets two at a time, never more', async (t) => {
  const r = recorder(new Set(), Infinity);
  const early = new EarlyBlobs(r.dest, silentReporter);
  // Streams that yield once to the event loop, so puts on both lanes overlap.
  const slow = async () => Readable.from((async function* () {
    await new Promise((resolve) => setTimeout(resolve, 5));
    yield Buffer.from('abc');
  })());
  for (const n of [1, 2, 3, 4, 5]) early.put(desc(n), slow);
  await early.settle();
  t.deepEqual([...r.calls].sort(), ['put 1', 'put 2', 'put 3', 'put 4', 'put 5']);
  t.is(r.maxActive(), 2);
});

test('the first failure is kept: later blobs do not start, settle rethrows it', async (t) => {
  const r = recorder();
  const early = new EarlyBlobs(r.dest, silentReporter);
  const boom = new CconvError('E_IO', 'disk full');
  early.put(desc(1), async () => Readable.from([Buffer.from('abc')]));
  early.put(desc(2), async () => {
    throw boom;
  });
  early.put(desc(3), async () => Readable.from([Buffer.from('abc')]));
  await t.throwsAsync(early.settle(), { is: boom });
  t.deepEqual(r.calls, ['put 1']);
});

test('cancel cuts the blob being written short, starts no other, and resolves once nothing writes', async (t) => {
  const r = recorder();
  const early = new EarlyBlobs(r.dest, silentReporter);
  let opened!: () => void;
  const started = new Promise<void>((resolve) => (opened = resolve));
  const endless = new Readable({ read() {} }); // never ends on its own
  early.put(desc(1), async () => {
    opened();
    return endless;
  });
  early.put(desc(2), async () => Readable.from([Buffer.from('abc')]));
  await started;
  const reason = new CconvError('E_LAYER_CORRUPT', 'layer 3 is corrupt');
  await early.cancel(reason);
  t.true(endless.destroyed);
  t.deepEqual(r.calls, []);
  await t.throwsAsync(early.settle(), { is: reason });
});
