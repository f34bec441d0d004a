/**
 * Parallel blob copies meet the registry's first 401 at the same moment: RegistryAuth must fetch
 * one bearer token for them all, not one per lane (fake HTTP transport answering the token realm).
 */
import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { RegistryAuth } from '../../src/transports/registry/auth.ts';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/transports/registry/http.ts';

const CHALLENGE = 'Bearer realm="https://auth.test/token",service="registry.test"';

function fakeHttp(): { http: HttpTransport; requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  const http = {
    async request(req: HttpRequest): Promise<HttpResponse> {
      requests.push(req);
      // Answer a few turns later, so concurrent callers overlap with the request in flight.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      const body = Readable.from([Buffer.from(JSON.stringify({ token: `token-${requests.length}`, expires_in: 300 }))]);
      return { status: 200, headers: {}, body: body as unknown as IncomingMessage, url: req.url };
    },
  } as unknown as HttpTransport;
  return { http, requests };
}

test('concurrent 401s for the same scopes share one token request', async (t) => {
  const { http, requests } = fakeHttp();
  const auth = new RegistryAuth(http, 'registry.test', { username: 'u', password: 'p' });
  const scopes = ['repository:team/app:pull,push'];
  const headers = await Promise.all([1, 2, 3].map(() => auth.onUnauthorized(CHALLENGE, scopes)));
  t.deepEqual(headers, ['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
  t.is(requests.length, 1);
  t.is(new URL(requests[0]!.url).searchParams.get('scope'), scopes[0]!);
  // Cached afterwards; other scopes get their own token.
  t.is(await auth.header(scopes), 'Bearer token-1');
  t.deepEqual(await Promise.all([auth.header(['repository:other:pull']), auth.header(['repository:other:pull'])]), ['Bearer token-2', 'Bearer token-2']);
  t.is(requests.length, 2);
});

test('a failed shared token request fails every waiter and is not cached', async (t) => {
  const requests: HttpRequest[] = [];
  const http = {
    async request(req: HttpRequest): Promise<HttpResponse> {
      requests.push(req);
      await new Promise((r) => setImmediate(r));
      const body = Readable.from([Buffer.from('{}')]);
      return { status: requests.length === 1 ? 401 : 200, headers: {}, body: body as unknown as IncomingMessage, url: req.url };
    },
  } as unknown as HttpTransport;
  const auth = new RegistryAuth(http, 'registry.test', { username: 'u', password: 'wrong' });
  const scopes = ['repository:team/app:pull'];
  const results = await Promise.allSettled([auth.onUnauthorized(CHALLENGE, scopes), auth.onUnauthorized(CHALLENGE, scopes)]);
  t.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  t.deepEqual(results.map((r) => (r as PromiseRejectedResult).reason.code), ['E_AUTH', 'E_AUTH']);
  t.is(requests.length, 1);
  // The next call asks again (the failure was not kept); this answer has no token: E_REGISTRY.
  await t.throwsAsync(auth.header(scopes), { code: 'E_REGISTRY' });
  t.is(requests.length, 2);
});
