/**
 * ACR authentication against a local double that speaks ACR's protocol: /oauth2/exchange turns an
 * Entra ID access token into a refresh token, /oauth2/token turns a refresh token (POST) or the
 * `az acr login --expose-token` token as Basic password (GET) into scoped access tokens, and /v2/
 * answers 401 with a Bearer challenge until one is presented.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { digestOf } from '../../src/image/digest.ts';
import { HttpTransport } from '../../src/transports/registry/http.ts';
import { ACR_TOKEN_USER, RegistryClient, acrTokenCredentials, exchangeEntraToken } from '../../src/transports/registry/index.ts';

const AAD_TOKEN = 'entra-access-token';
const AZ_TOKEN = 'az-acr-login-token';
const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}');

interface Double {
  host: string;
  base: string;
  log: Array<{ method: string; path: string; form?: Record<string, string> }>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += String(c);
  return s;
}

async function acrDouble(): Promise<Double> {
  const log: Double['log'] = [];
  const refresh = new Map<string, string>(); // refresh token -> tenant
  const access = new Map<string, string>(); // access token -> scope
  let n = 0;
  let host = '';
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await body(req);
    const form = Object.fromEntries(new URLSearchParams(text));
    log.push(req.method === 'POST' ? { method: req.method, path: url.pathname, form } : { method: req.method ?? '', path: url.pathname });
    const json = (status: number, doc: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (url.pathname === '/oauth2/exchange' && req.method === 'POST') {
      if (form.grant_type !== 'access_token' || form.access_token !== AAD_TOKEN || form.service !== host) return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const token = `acr-refresh-${++n}`;
      refresh.set(token, form.tenant ?? '');
      return json(200, { refresh_token: token });
    }
    if (url.pathname === '/oauth2/token') {
      let scope: string | undefined;
      if (req.method === 'POST' && form.grant_type === 'refresh_token' && refresh.has(form.refresh_token ?? '') && form.service === host) scope = form.scope;
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (req.method === 'GET' && basic === `${ACR_TOKEN_USER}:${AZ_TOKEN}` && url.searchParams.get('service') === host) scope = url.searchParams.get('scope') ?? '';
      if (scope === undefined) return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const token = `acr-access-${++n}`;
      access.set(token, scope);
      return json(200, { access_token: token });
    }
    const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
    const wanted = m ? `repository:${m[1]}:pull` : 'registry:catalog:*';
    const presented = access.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (presented === undefined || !presented.split(' ').includes(wanted)) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="${wanted}"`, 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (m && m[2] === 'v1') return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(MANIFEST);
    json(404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, base: `http://${host}`, log, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('Entra ID token -> /oauth2/exchange refresh token -> /oauth2/token access token -> manifest', async (t) => {
  const acr = await acrDouble();
  const http = new HttpTransport({ retries: 0 });
  try {
    const creds = await exchangeEntraToken(http, { registry: acr.host, accessToken: AAD_TOKEN, tenant: 'tenant-1', baseUrl: acr.base });
    t.deepEqual(creds, { identityToken: 'acr-refresh-1' });
    t.deepEqual(acr.log[0], { method: 'POST', path: '/oauth2/exchange', form: { grant_type: 'access_token', service: acr.host, access_token: AAD_TOKEN, tenant: 'tenant-1' } });

    const client = new RegistryClient(acr.host, { plainHttp: true, credentials: creds, retries: 0 });
    const got = await client.getManifest('team/app', 'v1');
    t.deepEqual(got.bytes, MANIFEST);
    t.is(got.digest, digestOf(MANIFEST));
    const tokenCall = acr.log.find((e) => e.path === '/oauth2/token')!;
    t.deepEqual(tokenCall.form, { grant_type: 'refresh_token', refresh_token: 'acr-refresh-1', client_id: 'cconv', service: acr.host, scope: 'repository:team/app:pull' });
    // The access token is cached per scope: a second read asks the token server nothing.
    await client.getManifest('team/app', 'v1');
    t.is(acr.log.filter((e) => e.path === '/oauth2/token').length, 1);
    await t.throwsAsync(client.getManifest('team/app', 'v2'), { code: 'E_IMAGE_NOT_FOUND' });
    client.close();
  } finally {
    http.close();
    await acr.close();
  }
});

test('an az acr login --expose-token token works as the password of the 0000 user', async (t) => {
  const acr = await acrDouble();
  const client = new RegistryClient(acr.host, { plainHttp: true, credentials: acrTokenCredentials(AZ_TOKEN), retries: 0 });
  try {
    t.deepEqual((await client.getManifest('team/app', 'v1')).bytes, MANIFEST);
    t.true(acr.log.some((e) => e.method === 'GET' && e.path === '/oauth2/token'));
  } finally {
    client.close();
    await acr.close();
  }
});

test('a refused Entra ID token or a wrong ACR token is E_AUTH', async (t) => {
  const acr = await acrDouble();
  const http = new HttpTransport({ retries: 0 });
  const client = new RegistryClient(acr.host, { plainHttp: true, credentials: acrTokenCredentials('wrong'), retries: 0 });
  try {
    await t.throwsAsync(exchangeEntraToken(http, { registry: acr.host, accessToken: 'not-it', baseUrl: acr.base }), { code: 'E_AUTH' });
    await t.throwsAsync(client.getManifest('team/app', 'v1'), { code: 'E_AUTH' });
  } finally {
    client.close();
    http.close();
    await acr.close();
  }
});

test('plain http is refused for non-loopback registries', (t) => {
  t.throws(() => new RegistryClient('myacr.azurecr.io', { plainHttp: true }), { code: 'E_USAGE' });
});
