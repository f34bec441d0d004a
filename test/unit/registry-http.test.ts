/**
 * HttpTransport retries against a local HTTP server that fails a given number of times: bounded
 * backoff on 5xx/429 (Retry-After honoured), connection resets, no retry of streamed bodies, and
 * E_NETWORK once the retries are spent. Delays are kept tiny through the options.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { CconvError } from '../../src/errors.ts';
import { HttpTransport, backoffDelay, parseRetryAfter } from '../../src/transports/registry/http.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

async function serve(handler: Handler): Promise<{ url: string; attempts: () => number; close: () => Promise<void> }> {
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    attempts++;
    req.resume();
    req.on('end', () => handler(req, res, attempts));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    attempts: () => attempts,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const fast = { retries: 3, retryBaseMs: 1, retryMaxMs: 5 };

test('retries 503 and 429 until success', async (t) => {
  const srv = await serve((_req, res, n) => {
    if (n === 1) res.writeHead(503).end();
    else if (n === 2) res.writeHead(429, { 'retry-after': '0' }).end();
    else res.writeHead(200).end('ok');
  });
  const http = new HttpTransport(fast);
  try {
    const res = await http.request({ method: 'GET', url: `${srv.url}/v2/` });
    t.is(res.status, 200);
    res.body.resume();
    t.is(srv.attempts(), 3);
  } finally {
    http.close();
    await srv.close();
  }
});

test('gives up after the configured retries and returns the last response', async (t) => {
  const srv = await serve((_req, res) => res.writeHead(502).end());
  const http = new HttpTransport({ ...fast, retries: 2 });
  try {
    const res = await http.request({ method: 'GET', url: `${srv.url}/x` });
    res.body.resume();
    t.is(res.status, 502);
    t.is(srv.attempts(), 3);
  } finally {
    http.close();
    await srv.close();
  }
});

test('does not retry 4xx other than 408/429', async (t) => {
  const srv = await serve((_req, res) => res.writeHead(404).end());
  const http = new HttpTransport(fast);
  try {
    const res = await http.request({ method: 'GET', url: `${srv.url}/x` });
    res.body.resume();
    t.is(res.status, 404);
    t.is(srv.attempts(), 1);
  } finally {
    http.close();
    await srv.close();
  }
});

test('retries a reset connection, then succeeds', async (t) => {
  const srv = await serve((req, res, n) => {
    if (n <= 2) req.socket.destroy();
    else res.writeHead(200).end('ok');
  });
  const http = new HttpTransport(fast);
  try {
    const res = await http.request({ method: 'PUT', url: `${srv.url}/m`, body: Buffer.from('{}') });
    res.body.resume();
    t.is(res.status, 200);
    t.is(srv.attempts(), 3);
  } finally {
    http.close();
    await srv.close();
  }
});

test('a streamed body is sent once; a reset then is E_NETWORK without secrets in the message', async (t) => {
  const srv = await serve((req) => req.socket.destroy());
  const http = new HttpTransport(fast);
  try {
    const err = await t.throwsAsync<CconvError>(
      http.request({ method: 'PATCH', url: `${srv.url}/u`, headers: { authorization: 'Bearer s3cr3t-token' }, body: Readable.from([Buffer.from('data')]) }),
      { code: 'E_NETWORK' },
    );
    t.is(srv.attempts(), 1);
    t.false(err!.message.includes('s3cr3t'));
  } finally {
    http.close();
    await srv.close();
  }
});

test('connection refused becomes E_NETWORK after bounded retries', async (t) => {
  const srv = await serve((_req, res) => res.end());
  const url = srv.url;
  await srv.close();
  const http = new HttpTransport({ ...fast, retries: 2 });
  const err = await t.throwsAsync<CconvError>(http.request({ method: 'GET', url: `${url}/v2/` }), { code: 'E_NETWORK' });
  t.regex(err!.message, /ECONNREFUSED \(after 3 attempts\)/);
  http.close();
});

test('redirects to another host drop the Authorization header', async (t) => {
  const seen: { auth?: string | undefined } = { auth: 'unset' };
  const storage = await serve((req, res) => {
    seen.auth = req.headers.authorization;
    res.writeHead(200).end('blob');
  });
  const storageUrl = storage.url.replace('127.0.0.1', 'localhost');
  const registry = await serve((_req, res) => res.writeHead(307, { location: `${storageUrl}/blob?sig=1` }).end());
  const http = new HttpTransport(fast);
  try {
    const res = await http.request({ method: 'GET', url: `${registry.url}/v2/r/blobs/x`, headers: { authorization: 'Bearer abc' }, followRedirects: true });
    res.body.resume();
    t.is(res.status, 200);
    t.is(seen.auth, undefined);
  } finally {
    http.close();
    await storage.close();
    await registry.close();
  }
});

test('Retry-After and backoff arithmetic', (t) => {
  t.is(parseRetryAfter('3'), 3000);
  t.is(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 5000);
  t.is(parseRetryAfter('soon'), undefined);
  t.is(parseRetryAfter(undefined), undefined);
  t.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 500)), [100, 200, 400, 500, 500]);
});
