/**
 * The minimum transfer speed of HttpTransport against tiny local servers that trickle: a response
 * body at a few bytes per second, response headers that never complete, a request body the server
 * never reads. Each fails with E_NETWORK naming the host and the slow phase, within about one
 * window, and is not retried. A slow consumer, a server that thinks before answering, and
 * `minSpeed: 0` are left alone; --min-speed sets it. Windows are a few hundred ms; without the
 * check each trickle would complete (or time out) only after 10 s, so the tests also bound the
 * elapsed time: under 9 s (loosely: a loaded machine is slow too).
 */
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { registryOptionsFrom } from '../../src/cli/options/registry.ts';
import { isCconvError, type CconvError } from '../../src/errors.ts';
import { HttpTransport, type HttpOptions } from '../../src/transports/registry/http.ts';
import { cli } from '../helpers/cli.ts';

interface Served {
  url: string;
  host: string;
  attempts: () => number;
  close: () => Promise<void>;
}

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  let attempts = 0;
  const server = createServer((req, res) => {
    attempts++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url: `http://${host}`, host, attempts: () => attempts, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Writes `total` bytes one at a time every `everyMs`, stopping when the client goes away. */
function trickle(res: ServerResponse, total: number, everyMs: number): void {
  res.writeHead(200, { 'content-length': String(total) });
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent === total) return void clearInterval(timer);
    res.write('x');
    if (++sent === total) res.end();
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

async function drain(body: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const c of body) n += (c as Buffer).length;
  return n;
}

const limits: HttpOptions = { retries: 2, retryBaseMs: 1, retryMaxMs: 5, minSpeed: 1000, speedWindowMs: 400, timeoutMs: 5000 };

test('a response body trickling a byte every 50 ms fails with E_NETWORK within about one window', async (t) => {
  const srv = await serve((_req, res) => trickle(res, 200, 50)); // 10 s in all without the check
  const http = new HttpTransport(limits);
  try {
    const started = Date.now();
    const res = await http.request({ method: 'GET', url: `${srv.url}/v2/r/blobs/sha256:ab` });
    t.is(res.status, 200);
    const err = await t.throwsAsync<CconvError>(drain(res.body), { code: 'E_NETWORK' });
    t.true(isCconvError(err));
    t.regex(err!.message, new RegExp(`^GET ${srv.host}: receiving the response body too slow: \\d+ bytes in 0\\.4 s, under the minimum of 1000 bytes/s$`));
    t.true(Date.now() - started < 9000, `took ${Date.now() - started} ms`);
    t.is(srv.attempts(), 1);
  } finally {
    http.close();
    await srv.close();
  }
});

test('response headers that trickle fail after timeoutMs, not retried', async (t) => {
  const srv = await serve((req) => {
    // Raw bytes of a response head, evenly over 10 s: the idle timeout never fires.
    const socket = req.socket;
    const text = 'HTTP/1.1 200 OK\r\nx-slow: ' + 'a'.repeat(60) + '\r\ncontent-length: 0\r\n\r\n';
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || i === text.length) return void clearInterval(timer);
      socket.write(text[i++]!);
    }, 10_000 / text.length);
  });
  const http = new HttpTransport({ ...limits, timeoutMs: 800 });
  try {
    const started = Date.now();
    const err = await t.throwsAsync<CconvError>(http.request({ method: 'GET', url: `${srv.url}/v2/` }), { code: 'E_NETWORK' });
    t.is(err!.message, `GET ${srv.host}: receiving the response headers too slow: not complete 0.8 s after the request was sent`);
    t.true(Date.now() - started < 9000, `took ${Date.now() - started} ms`);
    t.is(srv.attempts(), 1);
  } finally {
    http.close();
    await srv.close();
  }
});

test('a request body the server stops reading fails with E_NETWORK before the idle timeout', async (t) => {
  const srv = await serve((req) => req.socket.pause()); // never reads, never answers
  const http = new HttpTransport({ ...limits, timeoutMs: 10_000 });
  try {
    const started = Date.now();
    const body = Buffer.alloc(48 << 20); // more than loopback socket buffers hold
    const err = await t.throwsAsync<CconvError>(http.request({ method: 'PATCH', url: `${srv.url}/v2/r/blobs/uploads/u1`, body }), { code: 'E_NETWORK' });
    t.regex(err!.message, new RegExp(`^PATCH ${srv.host}: sending the request body too slow: \\d+ bytes in 0\\.4 s`));
    t.true(Date.now() - started < 9000, `took ${Date.now() - started} ms`);
    t.is(srv.attempts(), 1);
  } finally {
    http.close();
    await srv.close();
  }
});

test('a consumer that pauses, a server that thinks before answering, and minSpeed 0 are not cut', async (t) => {
  const big = Buffer.alloc(4 << 20, 7);
  const srv = await serve((req, res) => {
    if (req.url === '/big') return void res.writeHead(200, { 'content-length': String(big.length) }).end(big);
    if (req.url === '/think') return void setTimeout(() => res.writeHead(200).end('ok'), 1000);
    trickle(res, 20, 50);
  });
  // A long idle timeout: only the speed check is under test here, on a machine that may be loaded.
  const http = new HttpTransport({ ...limits, timeoutMs: 60_000 });
  const off = new HttpTransport({ ...limits, timeoutMs: 60_000, minSpeed: 0 });
  try {
    const res = await http.request({ method: 'GET', url: `${srv.url}/big` });
    await sleep(1200); // three windows with the socket paused by a full response buffer
    t.is(await drain(res.body), big.length);
    const thought = await http.request({ method: 'GET', url: `${srv.url}/think` });
    t.is(await drain(thought.body), 2);
    const slow = await off.request({ method: 'GET', url: `${srv.url}/trickle` });
    t.is(await drain(slow.body), 20);
  } finally {
    http.close();
    off.close();
    await srv.close();
  }
});

test('--min-speed reaches the registry options; a negative or non-numeric value is E_USAGE', async (t) => {
  const io = { stdout: () => {}, stderr: () => {}, isTTY: false, env: {}, readStdin: async () => Buffer.alloc(0) };
  t.is((await registryOptionsFrom({ passwordStdin: false, minSpeed: 0 }, io)).minSpeed, 0);
  t.is((await registryOptionsFrom({ passwordStdin: false }, io)).minSpeed, undefined);
  for (const value of ['-1', 'fast']) {
    const run = await cli(['inspect', 'docker://127.0.0.1:9/r:1', '--plain-http', `--min-speed=${value}`]);
    t.regex(run.stderr, /E_USAGE/, value);
    t.regex(run.stderr, /--min-speed must be a number of bytes per second/, value);
  }
});
