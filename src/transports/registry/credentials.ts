/**
 * Where registry credentials come from, first match wins:
 *   1. explicit credentials from the caller (`--username` + `--password-stdin`);
 *   2. env `CCONV_REGISTRY_USERNAME` + `CCONV_REGISTRY_PASSWORD`;
 *   3. the Docker CLI config (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`):
 *      `credHelpers[host]`, else `credsStore`, running `docker-credential-NAME get` with the server
 *      on stdin; then `auths[host]` (`auth` = base64 user:password, or `identitytoken`).
 * Nothing found means anonymous access. Secrets are never put in error messages.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CconvError } from '../../errors.ts';

/**
 * Credentials for one registry: a user and password (or token as password, e.g. ACR's
 * `00000000-0000-0000-0000-000000000000` + `az acr login --expose-token` token), or an OAuth2
 * refresh token (`identitytoken`) exchanged at the bearer realm.
 */
export type Credentials = { username: string; password: string } | { identityToken: string };

/** Inputs of `resolveCredentials`; `env` defaults to process.env. */
export interface CredentialLookup {
  /** Registry host as in the reference (`docker.io`, `myacr.azurecr.io`, `127.0.0.1:5000`). */
  registry: string;
  explicit?: Credentials;
  env?: NodeJS.ProcessEnv;
  /** Directory of config.json; default `$DOCKER_CONFIG` or `~/.docker`. */
  dockerConfigDir?: string;
}

/** The user name Docker credential helpers return when the secret is an identity token. */
const TOKEN_USER = '<token>';
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** The key a Docker config uses for `registry` (Docker Hub has its legacy URL). */
export function dockerConfigKey(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_KEY : registry;
}

/** Normalises a config.json key (`https://host/v1/` or `host`) to a bare host[:port]. */
function hostOf(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

function configError(file: string, detail: string, cause?: unknown): CconvError {
  return new CconvError('E_CONFIG', `${file}: ${detail}`, { cause, hint: 'fix or remove the Docker config file, or pass credentials explicitly' });
}

/** Runs `docker-credential-NAME get`; undefined when the helper has no entry for `server`. */
export function runCredentialHelper(name: string, server: string, env: NodeJS.ProcessEnv): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return Promise.reject(configError('docker config', `invalid credential helper name ${JSON.stringify(name)}`));
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${name}`, ['get'], { env, timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      const out = String(stdout).trim();
      if (err) {
        if (/credentials not found/i.test(out)) return resolve(undefined);
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed (not on PATH)' : 'failed';
        return reject(new CconvError('E_AUTH', `credential helper docker-credential-${name} ${why} for ${server}`, {
          cause: new Error(`exit ${String((err as NodeJS.ErrnoException).code ?? err.signal)}`),
          hint: `check \`docker-credential-${name} get\` or log in again with docker login`,
        }));
      }
      try {
        const doc = JSON.parse(out) as { Username?: unknown; Secret?: unknown };
        if (typeof doc.Secret !== 'string' || doc.Secret === '') return resolve(undefined);
        if (doc.Username === TOKEN_USER) return resolve({ identityToken: doc.Secret });
        resolve({ username: typeof doc.Username === 'string' ? doc.Username : '', password: doc.Secret });
      } catch {
        reject(new CconvError('E_AUTH', `credential helper docker-credential-${name} printed invalid JSON for ${server}`));
      }
    });
    child.stdin?.end(server);
  });
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

async function readDockerConfig(dir: string): Promise<{ file: string; config: DockerConfig } | undefined> {
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw configError(file, `cannot be read (${(err as NodeJS.ErrnoException).code})`, err);
  }
  try {
    const config = JSON.parse(text) as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error('not an object');
    return { file, config: config as DockerConfig };
  } catch (err) {
    throw configError(file, 'is not a JSON object', err);
  }
}

function fromAuthEntry(file: string, entry: NonNullable<DockerConfig['auths']>[string]): Credentials | undefined {
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') return { identityToken: entry.identitytoken };
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw configError(file, 'an `auth` entry is not base64 of user:password');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  return undefined;
}

/** Finds the credentials for a registry (see the module comment); undefined = anonymous. */
export async function resolveCredentials(lookup: CredentialLookup): Promise<Credentials | undefined> {
  if (lookup.explicit !== undefined) return lookup.explicit;
  const env = lookup.env ?? process.env;
  const user = env.CCONV_REGISTRY_USERNAME;
  const pass = env.CCONV_REGISTRY_PASSWORD;
  if (user !== undefined && user !== '' && pass !== undefined) return { username: user, password: pass };
  const dir = lookup.dockerConfigDir ?? (env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== '' ? env.DOCKER_CONFIG : join(homedir(), '.docker'));
  const found = await readDockerConfig(dir);
  if (found === undefined) return undefined;
  const { file, config } = found;
  const host = hostOf(lookup.registry);
  const helperKey = Object.keys(config.credHelpers ?? {}).find((k) => hostOf(k) === host);
  const helper = helperKey !== undefined ? config.credHelpers![helperKey] : config.credsStore;
  if (typeof helper === 'string' && helper !== '') {
    const creds = await runCredentialHelper(helper, helperKey ?? dockerConfigKey(host), env);
    if (creds !== undefined) return creds;
  }
  const authKey = Object.keys(config.auths ?? {}).find((k) => hostOf(k) === host);
  return authKey === undefined ? undefined : fromAuthEntry(file, config.auths![authKey]!);
}
