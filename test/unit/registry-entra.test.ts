/**
 * Entra ID -> ACR wiring: `RegistryOptions.entraToken` in connectRegistry and the CLI's
 * --entra-token-stdin / CCONV_ACR_ENTRA_TOKEN, against a local HTTPS double of ACR (self-signed
 * certificate made with openssl): anonymous `GET /v2/` answers ACR's Bearer challenge (realm
 * `/oauth2/token` on the registry's own host), `/oauth2/exchange` turns the Entra token into a
 * refresh token, `/oauth2/token` turns that into scoped access tokens, and manifests and blobs of
 * one small image are served only with the right bearer token.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistrySource, connectRegistry } from '../../src/transports/registry/index.ts';
import { cli } from '../helpers/cli.ts';
import { buildImage, buildLayer, type BuiltImage } from '../helpers/oci-builder.ts';

const AAD_TOKEN = 'entra-access-token-for-acr';
const PREISSUED = 'acr-refresh-preissued';

interface LoggedRequest {
  method: string;
  path: string;
  authorization: string;
  body: string;
}

interface Double {
  host: string;
  log: LoggedRequest[];
  close(): Promise<void>;
}

let work: string;
let certFile: string;
let keyPem: string;
let certPem: string;
let image: BuiltImage;

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-entra-'));
  certFile = join(work, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(work, 'key.pem'),
    '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: ['ignore', 'ignore', 'pipe'] });
  [keyPem, certPem] = await Promise.all([readFile(join(work, 'key.pem'), 'utf8'), readFile(certFile, 'utf8')]);
  const layer = await buildLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: 'pulled with an Entra ID token\n' }], { compression: 'gzip' });
  image = buildImage({ layers: [layer] });
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += String(c);
  return s;
}

function listen(server: ReturnType<typeof createHttpServer>, log: LoggedRequest[]): Promise<Double> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      resolve({ host, log, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    }),
  );
}

/** Serves the test image's manifest (tag v1 or digest) and blobs of repository team/app. */
function serveImage(path: string, method: string, res: ServerResponse): boolean {
  const m = /^\/v2\/team\/app\/(manifests|blobs)\/(.+)$/.exec(path);
  if (!m) return false;
  const bytes = m[1] === 'manifests' ? (m[2] === 'v1' || m[2] === image.manifestDigest ? image.manifestBytes : undefined) : image.blobs.get(m[2]!);
  if (bytes === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'), true;
  const type = m[1] === 'manifests' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'content-length': bytes.length, 'docker-content-digest': m[1] === 'manifests' ? image.manifestDigest : m[2] });
  res.end(method === 'HEAD' ? undefined : bytes);
  return true;
}

/** The ACR double (HTTPS). */
async function acrDouble(): Promise<Double> {
  const log: LoggedRequest[] = [];
  const refresh = new Set<string>([PREISSUED]);
  const access = new Map<string, string>(); // access token -> scope
  let n = 0;
  let host = '';
  const server = createHttpsServer({ key: keyPem, cert: certPem }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const body = await readBody(req);
    log.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization ?? '', body });
    const form = Object.fromEntries(new URLSearchParams(body));
    const json = (status: number, doc: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (url.pathname === '/oauth2/exchange' && req.method === 'POST') {
      if (form.grant_type !== 'access_token' || form.access_token !== AAD_TOKEN || form.service !== host) return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const token = `acr-refresh-${++n}`;
      refresh.add(token);
      return json(200, { refresh_token: token });
    }
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      if (form.grant_type !== 'refresh_token' || !refresh.has(form.refresh_token ?? '') || form.service !== host) return json(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const token = `acr-access-${++n}`;
      access.set(token, form.scope ?? '');
      return json(200, { access_token: token });
    }
    const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname);
    const wanted = repo ? `repository:${repo[1]}:pull` : 'registry:catalog:*';
    const scope = access.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (scope === undefined || !scope.split(' ').includes(wanted)) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="https://${host}/oauth2/token",service="${host}"`, 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (!serveImage(url.pathname, req.method ?? 'GET', res)) json(404, { errors: [{ code: 'NAME_UNKNOWN' }] });
  });
  const d = await listen(server as unknown as ReturnType<typeof createHttpServer>, log);
  host = d.host;
  return d;
}

/** A non-ACR registry (plain HTTP, Basic auth with user u / password p) that logs everything it is sent. */
async function basicDouble(): Promise<Double> {
  const log: LoggedRequest[] = [];
  const server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization ?? '', body: await readBody(req) });
    if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic realm="not-acr"' }).end();
    }
    if (!serveImage(url.pathname, req.method ?? 'GET', res)) res.writeHead(url.pathname === '/v2/' ? 200 : 404).end();
  });
  return listen(server, log);
}

const ref = (host: string) => ({ transport: 'docker' as const, registry: host, repository: 'team/app', tag: 'v1' });

test('connectRegistry exchanges the Entra token at /oauth2/exchange and pulls with the ACR refresh token', async (t) => {
  const acr = await acrDouble();
  try {
    const client = await connectRegistry(ref(acr.host), { caFile: certFile, entraToken: AAD_TOKEN, tenant: 'tenant-1', retries: 0, env: {}, dockerConfigDir: work });
    try {
      const got = await client.getManifest('team/app', 'v1');
      t.deepEqual(got.bytes, image.manifestBytes);
    } finally {
      client.close();
    }
    t.deepEqual(acr.log.map((e) => `${e.method} ${e.path}`), ['GET /v2/', 'POST /oauth2/exchange', 'GET /v2/team/app/manifests/v1', 'POST /oauth2/token', 'GET /v2/team/app/manifests/v1']);
    t.is(acr.log[0]!.authorization, '', 'the probe is anonymous');
    t.deepEqual(Object.fromEntries(new URLSearchParams(acr.log[1]!.body)), { grant_type: 'access_token', service: acr.host, access_token: AAD_TOKEN, tenant: 'tenant-1' });
    const tokenForm = Object.fromEntries(new URLSearchParams(acr.log[3]!.body));
    t.is(tokenForm.refresh_token, 'acr-refresh-1');
    t.is(tokenForm.scope, 'repository:team/app:pull');
    t.is(acr.log[4]!.authorization, 'Bearer acr-access-2');
  } finally {
    await acr.close();
  }
});

test('explicit credentials win over the Entra token: no exchange', async (t) => {
  const acr = await acrDouble();
  try {
    const client = await connectRegistry(ref(acr.host), { caFile: certFile, entraToken: AAD_TOKEN, credentials: { identityToken: PREISSUED }, retries: 0 });
    try {
      t.deepEqual((await client.getManifest('team/app', 'v1')).bytes, image.manifestBytes);
    } finally {
      client.close();
    }
    t.false(acr.log.some((e) => e.path === '/oauth2/exchange' || e.body.includes(AAD_TOKEN)));
  } finally {
    await acr.close();
  }
});

test('a registry without ACR\'s challenge never sees the Entra token; env credentials apply', async (t) => {
  const other = await basicDouble();
  try {
    const env = { CCONV_REGISTRY_USERNAME: 'u', CCONV_REGISTRY_PASSWORD: 'p' };
    const opened = await new RegistrySource(ref(other.host), { plainHttp: true, entraToken: AAD_TOKEN, retries: 0, env, dockerConfigDir: work }).open();
    await opened.close();
    t.is(opened.manifestDigest, image.manifestDigest);
    t.false(other.log.some((e) => e.path.startsWith('/oauth2/') || e.body.includes(AAD_TOKEN) || e.authorization.includes(AAD_TOKEN)));
  } finally {
    await other.close();
  }
});

test('a refused Entra token is E_AUTH', async (t) => {
  const acr = await acrDouble();
  try {
    await t.throwsAsync(new RegistrySource(ref(acr.host), { caFile: certFile, entraToken: 'not-the-token', retries: 0 }).open(), { code: 'E_AUTH' });
  } finally {
    await acr.close();
  }
});

test('cconv inspect --entra-token-stdin reads an ACR image end to end', async (t) => {
  const acr = await acrDouble();
  try {
    const run = await cli(['inspect', `docker://${acr.host}/team/app:v1`, '--entra-token-stdin', '--entra-tenant', 'tenant-2', '--cert-file', certFile, '--json'], { DOCKER_CONFIG: work }, `${AAD_TOKEN}\n`);
    t.is(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { manifestDigest: string; layers: Array<{ digest: string }> };
    t.is(out.manifestDigest, image.manifestDigest);
    t.deepEqual(out.layers.map((l) => l.digest), image.manifest.layers.map((l) => l.digest));
    const exchange = acr.log.find((e) => e.path === '/oauth2/exchange')!;
    t.is(new URLSearchParams(exchange.body).get('tenant'), 'tenant-2');
  } finally {
    await acr.close();
  }
});

test('cconv copy with CCONV_ACR_ENTRA_TOKEN pulls into an OCI layout with the same digest', async (t) => {
  const acr = await acrDouble();
  const dir = join(work, 'copied');
  try {
    const run = await cli(['copy', `docker://${acr.host}/team/app:v1`, `oci:${dir}:v1`, '--cert-file', certFile, '--json'], { DOCKER_CONFIG: work, CCONV_ACR_ENTRA_TOKEN: AAD_TOKEN });
    t.is(run.status, 0, run.stderr);
    t.deepEqual(JSON.parse(run.stdout), { source: `docker://${acr.host}/team/app:v1`, destination: `oci:${dir}:v1`, digest: image.manifestDigest, copied: 2, skipped: 0 });
    for (const [digest, bytes] of image.blobs) t.deepEqual(await readFile(join(dir, 'blobs', 'sha256', digest.slice(7))), bytes);
  } finally {
    await acr.close();
  }
});

test('cconv: a wrong Entra token is E_AUTH (exit 5) without echoing it; stdin cannot carry both secrets', async (t) => {
  const acr = await acrDouble();
  try {
    const wrong = await cli(['inspect', `docker://${acr.host}/team/app:v1`, '--entra-token-stdin', '--cert-file', certFile], { DOCKER_CONFIG: work }, 'wrong-secret-token');
    t.is(wrong.status, 5);
    t.regex(wrong.stderr, /E_AUTH/);
    t.false(wrong.stderr.includes('wrong-secret-token'));
    const both = await cli(['inspect', `docker://${acr.host}/team/app:v1`, '--entra-token-stdin', '--username', 'u', '--password-stdin'], {}, 'x');
    t.is(both.status, 2);
    t.regex(both.stderr, /E_USAGE: --entra-token-stdin and --password-stdin/);
  } finally {
    await acr.close();
  }
});
