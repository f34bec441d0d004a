/**
 * copyImage's parallel blob copy, over in-memory fakes (test/helpers/transports-copy-fakes.ts):
 * results in manifest order whatever the completion order, duplicate digests copied once, at most
 * N putBlob at once, and on failure: no new putBlob, in-flight blobs finished or cancelled, abort
 * once after they all settled, the first error rethrown.
 */
import test from 'ava';
import { CconvError } from '../../src/errors.ts';
import type { ProgressEvent } from '../../src/progress.ts';
import { DEFAULT_COPY_CONCURRENCY, copyImage, copyLanes } from '../../src/transports/copy.ts';
import { MemoryDestination, fakeSource, until, type FakeLayer } from '../helpers/transports-copy-fakes.ts';

const layer = (i: number, gated = false): FakeLayer => ({ bytes: Buffer.from(`layer ${i}\n`.repeat(i + 1)), gated });
const puts = (dest: MemoryDestination): string[] => dest.log.filter((e) => e.startsWith('put:')).map((e) => e.slice(4));

test('results are in manifest order, not completion order; a repeated digest is copied once', async (t) => {
  const [a, b, c, d] = [layer(0), layer(1), layer(2), layer(3)];
  const src = fakeSource([a!, b!, a!, c!, d!]);
  const [da, db, , dc, dd] = src.layerDescriptors.map((x) => x.digest);
  const config = src.configDescriptor.digest;
  // Blobs finish in the reverse of their start order: config, D, B, A.
  const finishOrder = [config, dd!, db!, da!];
  const finished: string[] = [];
  const dest = new MemoryDestination(Infinity, async (desc) => {
    await until(() => finished.length === finishOrder.indexOf(desc.digest));
    finished.push(desc.digest);
  });
  dest.blobs.set(dc!, c!.bytes); // already there: skipped
  const result = await copyImage(src, dest, { concurrency: 8 });
  t.deepEqual(dest.log.filter((e) => e.startsWith('end:')), finishOrder.map((x) => `end:${x}`));
  t.is(dest.maxActive, 4);
  t.deepEqual(result, { manifestDigest: src.manifestDigest, copied: [da!, db!, dd!, config], skipped: [dc!] });
  t.deepEqual(puts(dest).sort(), [da!, db!, dd!, config].sort());
  t.deepEqual(src.opened.sort(), [da!, db!, dd!].sort(), 'each layer opened once, the skipped one never');
  t.deepEqual(dest.log.slice(-2), ['manifest', 'commit']);
  t.is(src.closed, 1);
});

test('at most `concurrency` blobs in flight (default 3), and one at a time for a sequential destination', async (t) => {
  const layers = Array.from({ length: 8 }, (_, i) => layer(i));
  for (const [concurrency, expected] of [[2, 2], [3, 3], [undefined, DEFAULT_COPY_CONCURRENCY]] as const) {
    // Each put holds until `expected` are running at once, or until every blob has started: a
    // copier with fewer lanes hangs here (`until` gives up), one with more shows in maxActive.
    const dest = new MemoryDestination(Infinity, async (_d, self) => until(() => self.active >= expected || puts(self).length === 9));
    const src = fakeSource(layers);
    const result = await copyImage(src, dest, concurrency === undefined ? {} : { concurrency });
    t.is(dest.maxActive, expected, `concurrency ${concurrency}`);
    t.is(puts(dest).length, 9);
    t.deepEqual(result.copied, [...src.layerDescriptors.map((d) => d.digest), src.configDescriptor.digest]);
  }
  // No `concurrentBlobs`: the destination gets one putBlob at a time, in manifest order.
  const sequential = new MemoryDestination(undefined, async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  });
  const src = fakeSource(layers);
  await copyImage(src, sequential, { concurrency: 4 });
  t.is(sequential.maxActive, 1);
  t.deepEqual(puts(sequential), [...src.layerDescriptors.map((d) => d.digest), src.configDescriptor.digest]);
});

test('first failure: no new putBlob, in-flight puts finish, abort once after they settled, first error rethrown', async (t) => {
  const src = fakeSource([0, 1, 2, 3, 4, 5].map((i) => layer(i)));
  const digests = src.layerDescriptors.map((d) => d.digest);
  const dest = new MemoryDestination(Infinity, async (d, self) => {
    await until(() => self.active === 3);
    if (d.digest === digests[1]) throw new CconvError('E_REGISTRY', 'layer 1 refused');
    // The others finish only after the failure, a few turns later.
    await until(() => self.errors.has(digests[1]!));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    if (d.digest === digests[2]) throw new CconvError('E_NETWORK', 'a later error');
  });
  const err = await t.throwsAsync(copyImage(src, dest, { concurrency: 3 }), { code: 'E_REGISTRY', message: 'layer 1 refused' });
  t.true(err instanceof CconvError);
  t.deepEqual(puts(dest).sort(), digests.slice(0, 3).sort(), 'no putBlob started after the failure');
  t.deepEqual(dest.log.filter((e) => e.startsWith('has:')).sort(), digests.slice(0, 3).map((x) => `has:${x}`).sort(), 'no blob looked at after the failure');
  t.deepEqual(src.opened.sort(), digests.slice(0, 3).sort());
  t.is(dest.log.filter((e) => e === 'abort').length, 1);
  t.is(dest.activeAtAbort, 0);
  const at = (e: string) => dest.log.indexOf(e);
  t.true(at(`end:${digests[0]}`) >= 0 && at(`end:${digests[0]}`) < at('abort'));
  t.true(at(`fail:${digests[2]}`) >= 0 && at(`fail:${digests[2]}`) < at('abort'));
  t.false(dest.log.includes('manifest') || dest.log.includes('commit'));
  t.is(src.closed, 1);
});

test('first failure cancels the blobs still streaming (their streams are destroyed), then aborts', async (t) => {
  const src = fakeSource([layer(0, true), layer(1), layer(2, true), layer(3)]);
  const digests = src.layerDescriptors.map((d) => d.digest);
  const dest = new MemoryDestination(Infinity, async (d, self) => {
    await until(() => self.active === 3);
    if (d.digest === digests[1]) throw new CconvError('E_DIGEST_MISMATCH', 'layer 1 is corrupt');
  });
  // Without cancellation the gated layers would only end here, and the assertions below fail.
  const fallback = setTimeout(() => src.release(), 5000);
  try {
    await t.throwsAsync(copyImage(src, dest, { concurrency: 3 }), { code: 'E_DIGEST_MISMATCH', message: 'layer 1 is corrupt' });
  } finally {
    clearTimeout(fallback);
  }
  for (const i of [0, 2]) {
    t.is((dest.errors.get(digests[i]!) as CconvError | undefined)?.code, 'E_ABORTED', `layer ${i} cancelled`);
    t.true(src.streams.get(digests[i]!)?.destroyed);
  }
  t.false(puts(dest).includes(digests[3]!));
  t.deepEqual(dest.log.filter((e) => e === 'abort'), ['abort']);
  t.is(dest.activeAtAbort, 0);
});

test('a sequential destination stops at the failing blob', async (t) => {
  const src = fakeSource([layer(0), layer(1), layer(2)]);
  const digests = src.layerDescriptors.map((d) => d.digest);
  const dest = new MemoryDestination(undefined, async (d) => {
    if (d.digest === digests[1]) throw new CconvError('E_IO', 'disk full');
  });
  await t.throwsAsync(copyImage(src, dest), { code: 'E_IO' });
  t.deepEqual(puts(dest), digests.slice(0, 2));
  t.deepEqual(dest.log.slice(-1), ['abort']);
});

test('an aborted signal stops the copy with E_ABORTED and aborts the destination', async (t) => {
  const controller = new AbortController();
  const src = fakeSource([layer(0, true), layer(1, true), layer(2)]);
  const dest = new MemoryDestination(Infinity, async () => {});
  const copying = copyImage(src, dest, { concurrency: 2, signal: controller.signal });
  await until(() => dest.active === 2);
  controller.abort();
  await t.throwsAsync(copying, { code: 'E_ABORTED' });
  t.is(puts(dest).length, 2);
  t.deepEqual(dest.log.filter((e) => e === 'abort'), ['abort']);
  t.is(dest.activeAtAbort, 0);
});

test('progress: one start and one done per copied blob, advances adding up to its size', async (t) => {
  const events: ProgressEvent[] = [];
  const src = fakeSource([layer(0), layer(1), layer(0)]);
  const dest = new MemoryDestination(Infinity);
  dest.blobs.set(src.layerDescriptors[1]!.digest, layer(1).bytes);
  await copyImage(src, dest, { report: (e) => events.push(e) });
  for (const d of [src.layerDescriptors[0]!, src.configDescriptor]) {
    const mine = events.filter((e) => 'id' in e && e.id === `copy:${d.digest}`);
    t.deepEqual(mine.filter((e) => e.type !== 'advance').map((e) => e.type), ['start', 'done']);
    t.is(mine.reduce((n, e) => n + (e.type === 'advance' ? e.amount : 0), 0), d.size);
  }
  t.false(events.some((e) => 'id' in e && e.id === `copy:${src.layerDescriptors[1]!.digest}`));
});

test('copyLanes: requested lanes capped by the destination, which defaults to one', (t) => {
  t.is(copyLanes({ concurrentBlobs: Infinity }), DEFAULT_COPY_CONCURRENCY);
  t.is(copyLanes({ concurrentBlobs: Infinity }, 6), 6);
  t.is(copyLanes({ concurrentBlobs: 2 }, 6), 2);
  t.is(copyLanes({}, 6), 1);
  for (const bad of [0, -1, 1.5, Number.NaN]) t.throws(() => copyLanes({}, bad), { code: 'E_USAGE' });
});
