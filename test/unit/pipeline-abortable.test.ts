/**
 * pipeline/abortable.ts with fakes: once the signal is aborted, a source layer stream in flight is
 * destroyed with the signal's E_ABORTED and no new one opens; the destination refuses blobs, the
 * manifest and the commit, cuts short the putBlob stream in flight, and still lets abort through.
 */
import test from 'ava';
import { PassThrough, Readable } from 'node:stream';
import { CconvError } from '../../src/errors.ts';
import type { Image, Layer } from '../../src/image/image.ts';
import type { Descriptor, Digest } from '../../src/image/types.ts';
import { abortableDestination, abortableImage } from '../../src/pipeline/abortable.ts';
import type { ImageDestination } from '../../src/transports/types.ts';

const desc: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${'a'.repeat(64)}` as Digest, size: 3 };
const interrupted = () => new CconvError('E_ABORTED', 'interrupted by SIGINT');

function fakeImage(opened: PassThrough[]): Image {
  const open = async (): Promise<Readable> => {
    const s = new PassThrough();
    opened.push(s);
    return s;
  };
  const layer: Layer = { index: 0, descriptor: desc, diffId: desc.digest, compression: 'none', blobFile: '/x/blob', openCompressed: open, openStored: open, openUncompressed: open };
  return { layers: [layer], manifestDigest: desc.digest, close: async () => {} } as unknown as Image;
}

test('a layer stream in flight is destroyed with the signal\'s error, and no stream opens after', async (t) => {
  const stop = new AbortController();
  const opened: PassThrough[] = [];
  const image = abortableImage(fakeImage(opened), stop.signal);
  const layer = image.layers[0]!;
  t.is(layer.blobFile, '/x/blob');
  t.is(image.manifestDigest, desc.digest);
  const stream = await layer.openUncompressed();
  const failed = new Promise<unknown>((resolve) => stream.on('error', resolve));
  const reason = interrupted();
  stop.abort(reason);
  t.is(await failed, reason);
  t.true(stream.destroyed);
  await t.throwsAsync(layer.openStored(), { is: reason });
  t.is(opened.length, 1); // refused before opening
});

test('a stream that ends before the abort is left alone (its listener is gone)', async (t) => {
  const stop = new AbortController();
  const layer = abortableImage(fakeImage([]), stop.signal).layers[0]!;
  const stream = await layer.openCompressed();
  stream.resume();
  (stream as PassThrough).end('abc');
  await new Promise((resolve) => stream.on('close', resolve));
  stop.abort(interrupted());
  t.is(stream.errored, null);
});

test('the destination: the putBlob in flight is cut short, then blobs, manifest and commit are refused; abort goes through', async (t) => {
  const stop = new AbortController();
  const calls: string[] = [];
  let reading: Promise<void> | undefined;
  const inner = {
    reference: { transport: 'oci', dir: '/x' },
    concurrentBlobs: Infinity,
    hasBlob: async () => (calls.push('has'), false),
    putBlob: (_d: Descriptor, content: Readable) => (reading = (async () => {
      calls.push('put');
      for await (const _ of content) void _;
    })()),
    putBlobFile: async () => void calls.push('putFile'),
    putManifest: async () => (calls.push('manifest'), desc.digest),
    commit: async () => void calls.push('commit'),
    abort: async () => void calls.push('abort'),
  } as unknown as ImageDestination;
  const dest = abortableDestination(inner, stop.signal);
  t.is(dest.concurrentBlobs, Infinity);
  t.false(await dest.hasBlob(desc));
  await dest.putBlobFile!(desc, '/x/blob');
  const content = new PassThrough();
  const put = dest.putBlob(desc, content);
  const reason = interrupted();
  stop.abort(reason);
  await t.throwsAsync(put, { is: reason });
  await t.throwsAsync(reading!, { is: reason });
  const later = new PassThrough();
  await t.throwsAsync(dest.putBlob(desc, later), { is: reason });
  t.true(later.destroyed);
  await t.throwsAsync(dest.putBlobFile!(desc, '/x/blob'), { is: reason });
  await t.throwsAsync(dest.hasBlob(desc), { is: reason });
  await t.throwsAsync(dest.putManifest(Buffer.from('{}'), 'x'), { is: reason });
  await t.throwsAsync(dest.commit(), { is: reason });
  await dest.abort();
  t.deepEqual(calls, ['has', 'putFile', 'put', 'abort']);
});
