/**
 * A pull whose layer body is cut, copied from the fake registry (test/helpers/fake-registry.ts)
 * into an OCI layout: the cut is resumed with `Range: bytes=N-` (206), or the blob is sent again
 * when the registry ignores the range (200) and the bytes already written are skipped; a body
 * that ends cleanly but short of the descriptor's size is resumed too. The copy verifies the
 * digest, so success means the seams are right. A registry that cuts every time ends the copy
 * with E_NETWORK (not E_IO "writing blob", as before) after the client's retries. A manifest
 * body cut short is fetched again the same way.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage, openDestination, openSource, parseReference } from '../../src/transports/index.ts';
import { RegistryClient } from '../../src/transports/registry/index.ts';
import { fakeRegistry } from '../helpers/fake-registry.ts';
import { buildImage, buildLayer, type BuiltImage } from '../helpers/oci-builder.ts';

type Serve = (req: IncomingMessage, res: ServerResponse, blob: Buffer, attempt: number) => void;

let image: BuiltImage;
test.before(async () => {
  image = buildImage({ layers: [await buildLayer([{ name: 'data.bin', content: randomBytes(256 << 10) }])] });
});

/** Sends `blob` from the requested range on: 206 for `Range: bytes=N-`, else 200 with all of it. */
const honourRange: Serve = (req, res, blob) => {
  const from = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (from === null) return void res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
  const start = Number(from[1]);
  res.writeHead(206, { 'content-length': String(blob.length - start), 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` }).end(blob.subarray(start));
};

/** Announces the whole blob, sends `part` bytes, then drops the connection. */
const cutAt = (part: number): Serve => (req, res, blob) => {
  res.writeHead(200, { 'content-length': String(blob.length) });
  res.write(blob.subarray(0, part), () => setTimeout(() => req.socket.destroy(), 20));
};

/** Copies the image from a fake whose layer GETs are served by `serves[attempt]` (the last one repeats); returns the Range headers seen. */
async function pull(t: { teardown(fn: () => Promise<void>): void }, serves: Serve[], retries = 4): Promise<{ ranges: string[]; dir: string; run: Promise<unknown> }> {
  const layer = image.manifest.layers[0]!;
  const ranges: string[] = [];
  const fake = await fakeRegistry({
    onBlobGet: (req, res, blob) => {
      if (!req.url?.endsWith(layer.digest)) return void res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
      ranges.push(req.headers.range ?? 'none');
      serves[Math.min(ranges.length, serves.length) - 1]!(req, res, blob, ranges.length);
    },
  });
  for (const [digest, bytes] of image.blobs) fake.blobs.set(digest, bytes);
  fake.manifests.set('1', image.manifestBytes);
  const dir = await mkdtemp(join(tmpdir(), 'cconv-resume-pull-'));
  t.teardown(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });
  const registry = { plainHttp: true, retries, retryBaseMs: 1, retryMaxMs: 5, env: {}, dockerConfigDir: '/nonexistent' };
  const run = copyImage(openSource(parseReference(`docker://${fake.host}/r:1`), { registry }), openDestination(parseReference(`oci:${dir}:1`)));
  return { ranges, dir, run };
}

async function storedLayer(dir: string): Promise<Buffer> {
  return readFile(join(dir, 'blobs', 'sha256', image.manifest.layers[0]!.digest.slice(7)));
}

test('a body cut once is resumed with a Range request', async (t) => {
  const { ranges, dir, run } = await pull(t, [cutAt(100_000), honourRange]);
  await run;
  t.deepEqual(ranges, ['none', 'bytes=100000-']);
  t.deepEqual(await storedLayer(dir), image.blobs.get(image.manifest.layers[0]!.digest));
});

test('a registry that ignores the range sends the blob again; the bytes already written are skipped', async (t) => {
  const whole: Serve = (_req, res, blob) => void res.writeHead(200, { 'content-length': String(blob.length) }).end(blob);
  const { ranges, dir, run } = await pull(t, [cutAt(100_000), cutAt(50_000), whole]);
  await run;
  t.deepEqual(ranges, ['none', 'bytes=100000-', 'bytes=100000-']);
  t.deepEqual(await storedLayer(dir), image.blobs.get(image.manifest.layers[0]!.digest));
});

test('a body that ends cleanly short of the descriptor size is resumed', async (t) => {
  const short: Serve = (_req, res, blob) => void res.writeHead(200, { 'content-length': '70000' }).end(blob.subarray(0, 70_000));
  const { ranges, run } = await pull(t, [short, honourRange]);
  await run;
  t.deepEqual(ranges, ['none', 'bytes=70000-']);
});

test('a registry that cuts every time: E_NETWORK after the retries, not E_IO', async (t) => {
  // Every answer sends 10 000 more bytes from where it was asked, then cuts.
  const cutEvery: Serve = (req, res, blob) => {
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    res.writeHead(from === 0 ? 200 : 206, { 'content-length': String(blob.length - from), ...(from === 0 ? {} : { 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}` }) });
    res.write(blob.subarray(from, from + 10_000), () => setTimeout(() => req.socket.destroy(), 20));
  };
  const { ranges, run } = await pull(t, [cutEvery], 2);
  const err = await t.throwsAsync(run, { code: 'E_NETWORK' });
  t.regex(err!.message, /^blob sha256:[0-9a-f]{64} in 127\.0\.0\.1:\d+\/r: the connection failed \(ECONNRESET\) after 30000 of \d+ bytes \(after 3 attempts\)$/);
  t.deepEqual(ranges, ['none', 'bytes=10000-', 'bytes=20000-']);
});

test('a manifest body cut once is fetched again; cut every time it is E_NETWORK', async (t) => {
  let gets = 0;
  let cutAlways = false;
  const server = createServer((req, res) => {
    gets++;
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(image.manifestBytes.length) });
    if (gets > 1 && !cutAlways) return void res.end(image.manifestBytes);
    res.write(image.manifestBytes.subarray(0, 50), () => setTimeout(() => req.socket.destroy(), 20));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new RegistryClient(`127.0.0.1:${(server.address() as { port: number }).port}`, { plainHttp: true, retries: 2, retryBaseMs: 1, retryMaxMs: 5 });
  try {
    t.deepEqual((await client.getManifest('r', image.manifestDigest)).bytes, image.manifestBytes);
    t.is(gets, 2);
    cutAlways = true;
    gets = 0;
    await t.throwsAsync(client.getManifest('r', '1'), { code: 'E_NETWORK', message: /: ECONNRESET while reading the body$/ });
    t.is(gets, 3);
  } finally {
    client.close();
    server.closeAllConnections();
    server.close();
  }
});
