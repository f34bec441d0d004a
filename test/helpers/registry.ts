/**
 * A private Docker registry for integration tests: Debian's `docker-registry` (distribution 2.8.2)
 * on 127.0.0.1, a free port, TLS with a throw-away CA, and htpasswd (bcrypt), no auth, or token auth
 * served by a small in-process token server issuing RS256 JWTs with an `x5c` header (the bearer
 * challenge flow of Docker Hub / ACR). Everything lives in one temp dir removed by `stop()`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, randomUUID, sign as cryptoSign } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of `startRegistry`; defaults: TLS on, htpasswd auth. */
export interface RegistryOptions {
  tls?: boolean;
  auth?: 'htpasswd' | 'none' | 'token';
}

/** A running test registry. `caFile` is empty when TLS is off. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** PEM CA certificate that signed the server certificate. */
  caFile: string;
  /** A directory holding only `ca.crt` (skopeo `--cert-dir`). */
  certDir: string;
  username: string;
  password: string;
  /** The token server's base URL (auth 'token' only), e.g. `https://127.0.0.1:PORT`. */
  tokenServer?: string;
  /** Storage root of the registry (to inspect or corrupt blobs in tests). */
  storageDir: string;
  /** Stops the registry (and token server) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const USERNAME = 'cconv';
const PASSWORD = 'secret-test-password';
const SERVICE = 'cconv-test-registry';
const ISSUER = 'cconv-test-issuer';

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes ca.{key,crt} and server.{key,crt} (SAN IP:127.0.0.1, DNS:localhost) in `dir`. */
async function makeCerts(dir: string): Promise<void> {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', '/CN=cconv test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Grants every requested action to the test user; anonymous callers get an empty access list. */
function tokenFor(scopes: string[], authorized: boolean, caKeyPem: string, caDer: Buffer): string {
  const access = authorized
    ? scopes.map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop() ?? '';
        return { type, name: rest.join(':'), actions: actions.split(',').filter(Boolean) };
      })
    : [];
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', x5c: [caDer.toString('base64')] };
  const claims = { iss: ISSUER, sub: authorized ? USERNAME : '', aud: SERVICE, exp: now + 600, nbf: now - 60, iat: now, jti: randomUUID(), access };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = cryptoSign('sha256', Buffer.from(input), createPrivateKey(caKeyPem));
  return `${input}.${b64url(sig)}`;
}

/** GET /token?service=..&scope=..: Basic auth with the test credentials or anonymous. */
async function startTokenServer(dir: string): Promise<{ server: Server; url: string }> {
  const [key, cert, caKey, caPem] = await Promise.all(
    ['server.key', 'server.crt', 'ca.key', 'ca.crt'].map((f) => readFile(join(dir, f), 'utf8')),
  );
  const caDer = Buffer.from(new X509Certificate(caPem!).raw);
  const server = createHttpsServer({ key: key!, cert: cert! }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    let authorized = false;
    const auth = req.headers.authorization;
    if (auth) {
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (user !== USERNAME || pass !== PASSWORD) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      authorized = true;
    }
    const token = tokenFor(url.searchParams.getAll('scope'), authorized, caKey!, caDer);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 600 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `https://127.0.0.1:${port}` };
}

/** Resolves once GET /v2/ answers 200 or 401; rejects after ~10 s or if the process exits. */
async function waitReady(host: string, ca: Buffer | undefined, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
    const status = await new Promise<number>((resolve) => {
      const req = (ca ? httpsRequest : httpRequest)({ host: '127.0.0.1', port: Number(host.split(':')[1]), path: '/v2/', ca, timeout: 1000 },
        (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (status === 200 || status === 401) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('docker-registry did not become ready');
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Starts a private registry; call `stop()` in `test.after.always`. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const tls = options.tls ?? true;
  const auth = options.auth ?? 'htpasswd';
  if (auth === 'token' && !tls) throw new Error('token auth needs TLS');
  const dir = await mkdtemp(join(tmpdir(), 'cconv-registry-'));
  let child: ChildProcess | undefined;
  let tokenServer: { server: Server; url: string } | undefined;
  const stop = async (): Promise<void> => {
    if (child) await stopProcess(child);
    if (tokenServer) await new Promise<void>((r) => tokenServer!.server.close(() => r()));
    child = undefined;
    tokenServer = undefined;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const certDir = join(dir, 'certs');
    const storageDir = join(dir, 'storage');
    await mkdir(certDir);
    await mkdir(storageDir);
    if (tls) {
      await makeCerts(dir);
      await writeFile(join(certDir, 'ca.crt'), await readFile(join(dir, 'ca.crt')));
    }
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const lines = [
      'version: 0.1',
      'log:', '  level: error', '  accesslog:', '    disabled: true',
      'storage:', '  filesystem:', `    rootdirectory: ${storageDir}`, '  delete:', '    enabled: true',
      'http:', `  addr: ${host}`, '  secret: cconv-test-secret',
    ];
    if (tls) lines.push('  tls:', `    certificate: ${join(dir, 'server.crt')}`, `    key: ${join(dir, 'server.key')}`);
    if (auth === 'htpasswd') {
      const entry = execFileSync('htpasswd', ['-Bbn', USERNAME, PASSWORD], { encoding: 'utf8' }).trim();
      await writeFile(join(dir, 'htpasswd'), `${entry}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: cconv-test', `    path: ${join(dir, 'htpasswd')}`);
    } else if (auth === 'token') {
      tokenServer = await startTokenServer(dir);
      lines.push('auth:', '  token:', `    realm: ${tokenServer.url}/token`, `    service: ${SERVICE}`,
        `    issuer: ${ISSUER}`, `    rootcertbundle: ${join(dir, 'ca.crt')}`);
    }
    await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
    child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.resume();
    await waitReady(host, tls ? await readFile(join(dir, 'ca.crt')) : undefined, child);
    const result: TestRegistry = {
      host, caFile: tls ? join(dir, 'ca.crt') : '', certDir, username: USERNAME, password: PASSWORD, storageDir, stop,
    };
    if (tokenServer) result.tokenServer = tokenServer.url;
    return result;
  } catch (err) {
    await stop();
    throw err;
  }
}
