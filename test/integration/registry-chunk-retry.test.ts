/**
 * Chunked pushes to Debian's docker-registry (distribution 2.8) through a fault-injecting HTTP
 * proxy: the PATCH of the second chunk is answered 503 with Retry-After, then dropped (the
 * connection closed without a word), then answered 429, each time without reaching the registry.
 * The push must complete from the registry's own upload status, and the blob read back directly
 * from the registry must be the one pushed. A PATCH cut after part of it reached the registry is
 * the case distribution cannot resume (it cancels a session whose size differs from its state
 * token): cconv must then fail with a clear E_REGISTRY and leave no tag.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage, openDestination, openSource, parseReference } from '../../src/transports/index.ts';
import { buildLayer, writeOciLayout, type BuiltImage } from '../helpers/oci-builder.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const CHUNK = 1 << 20;
type Fault = '503' | '429' | 'drop' | 'cut';

let registry: TestRegistry;
let work: string;
let image: BuiltImage;

test.before(async () => {
  registry = await startRegistry({ tls: false, auth: 'none' });
  work = await mkdtemp(join(tmpdir(), 'cconv-chunk-retry-'));
  const layer = await buildLayer([{ name: 'data.bin', content: randomBytes(3 * CHUNK + 12345) }]);
  image = (await writeOciLayout(join(work, 'oci'), [{ layers: [layer], tag: 'v1' }])).images[0]!;
});

test.after.always(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A proxy to the registry applying `faults`, one per PATCH whose Content-Range starts at CHUNK.
 * '503'/'429' answer without forwarding; 'drop' closes the connection without forwarding; 'cut'
 * forwards half of the body, then closes both connections.
 */
async function startProxy(faults: Fault[]): Promise<{ host: string; log: string[]; close: () => Promise<void> }> {
  const [, port] = registry.host.split(':');
  const log: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const data = await body(req);
    const range = req.headers['content-range'];
    const fault = req.method === 'PATCH' && range?.startsWith(`${CHUNK}-`) ? faults.shift() : undefined;
    log.push(`${req.method} ${range ?? ''}${fault ? ` ${fault}` : ''}`.trim());
    if (fault === '503') return void res.writeHead(503, { 'retry-after': '1' }).end();
    if (fault === '429') return void res.writeHead(429).end();
    if (fault === 'drop') return void req.socket.destroy();
    const up = request({ host: '127.0.0.1', port: Number(port), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    if (fault === 'cut') {
      up.write(data.subarray(0, data.length / 2));
      setTimeout(() => {
        up.destroy();
        req.socket.destroy();
      }, 200);
      return;
    }
    up.end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, log, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** The registry's own answer for `path` (not through the proxy): status and body. */
function direct(path: string): Promise<{ status: number; bytes: Buffer }> {
  const [, port] = registry.host.split(':');
  return new Promise((resolve, reject) => {
    const headers = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    request({ host: '127.0.0.1', port: Number(port), path, headers }, async (res) => resolve({ status: res.statusCode ?? 0, bytes: await body(res) })).on('error', reject).end();
  });
}

async function push(proxyHost: string, repo: string): Promise<void> {
  const dst = openDestination(parseReference(`docker://${proxyHost}/${repo}:1`), { registry: { plainHttp: true, chunkSize: CHUNK, retryBaseMs: 10, retryMaxMs: 2000, env: {}, dockerConfigDir: '/nonexistent' } });
  await copyImage(openSource(parseReference(`oci:${join(work, 'oci')}:v1`)), dst);
}

test('503 + Retry-After, a dropped connection and 429 on the 2nd chunk: the push completes with the right blob', async (t) => {
  const proxy = await startProxy(['503', 'drop', '429']);
  try {
    await push(proxy.host, 'retry/app');
    const patches = proxy.log.filter((l) => l.startsWith('PATCH'));
    t.deepEqual(patches.slice(0, 5), ['PATCH 0-1048575', 'PATCH 1048576-2097151 503', 'PATCH 1048576-2097151 drop', 'PATCH 1048576-2097151 429', 'PATCH 1048576-2097151']);
    t.is(proxy.log.filter((l) => l === 'GET').length, 3, 'one upload status request per failure');
    const layer = image.manifest.layers[0]!;
    const stored = await direct(`/v2/retry/app/blobs/${layer.digest}`);
    t.is(stored.status, 200);
    t.is(`sha256:${createHash('sha256').update(stored.bytes).digest('hex')}`, layer.digest);
    t.is((await direct('/v2/retry/app/manifests/1')).status, 200);
  } finally {
    await proxy.close();
  }
});

test('a PATCH cut after half of it reached the registry: distribution drops the session; E_REGISTRY, no tag', async (t) => {
  const proxy = await startProxy(['cut']);
  try {
    const err = await t.throwsAsync(push(proxy.host, 'cut/app'), { code: 'E_REGISTRY' });
    t.regex(err!.message, /no longer knows the upload session \(404 BLOB_UPLOAD_INVALID.*cannot be resumed/);
    t.deepEqual(proxy.log.slice(-3), ['PATCH 1048576-2097151 cut', 'GET', 'DELETE']);
    t.is((await direct('/v2/cut/app/manifests/1')).status, 404);
  } finally {
    await proxy.close();
  }
});
