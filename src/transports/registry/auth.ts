/**
 * Registry authentication (distribution token spec): the first 401 tells the scheme. Basic sends
 * the credentials on every request; Bearer fetches a token from the challenge's realm for the
 * request's scopes (GET with Basic credentials, or POST grant_type=refresh_token for an identity
 * token), cached per scope set until it expires. Anonymous callers get anonymous tokens.
 */
import { CconvError } from '../../errors.ts';
import { pickChallenge, parseChallenges, type Challenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';
import { headerValue, type HttpTransport } from './http.ts';

/** The scope string for repository access, e.g. `repository:team/app:pull,push`. */
export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/** Hint for every E_AUTH about logging in. */
export const LOGIN_HINT =
  'log in with `docker login REGISTRY` (or pass --username with --password-stdin, or set CCONV_REGISTRY_USERNAME/CCONV_REGISTRY_PASSWORD); for ACR use `az acr login -n NAME --expose-token`';

interface CachedToken {
  value: string;
  expires: number;
}

/** Reads a small JSON response body (at most 1 MiB); undefined when it is not JSON. */
export async function readJsonBody(body: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > 1 << 20) break;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Produces Authorization headers for one registry. */
export class RegistryAuth {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  /** Token requests in flight, by scope key. */
  private readonly fetching = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly http: HttpTransport,
    private readonly registry: string,
    private readonly credentials: Credentials | undefined,
  ) {}

  /** The header for `scopes` from what the registry asked before, or undefined before the first challenge. */
  async header(scopes: string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (ch === undefined) return undefined;
    if (ch.scheme === 'basic') return this.basicHeader();
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expires > Date.now()) return `Bearer ${cached.value}`;
    // Parallel blob copies ask for the same scopes at once: they share one token request.
    let fetching = this.fetching.get(key);
    if (fetching === undefined) {
      fetching = this.fetchToken(ch, scopes).finally(() => this.fetching.delete(key));
      this.fetching.set(key, fetching);
    }
    const token = await fetching;
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  /**
   * Learns the scheme from a 401's WWW-Authenticate and returns the header to retry with. Throws
   * E_AUTH when there is nothing new to try (no challenge, Basic without credentials).
   */
  async onUnauthorized(wwwAuthenticate: string | undefined, scopes: string[]): Promise<string> {
    const ch = pickChallenge(parseChallenges(wwwAuthenticate ?? ''));
    if (ch === undefined) throw this.denied('the registry asked for an unknown authentication scheme');
    this.challenge = ch;
    this.tokens.delete([...scopes].sort().join(' '));
    const header = await this.header(scopes);
    if (header === undefined) throw this.denied('authentication required');
    return header;
  }

  /** An E_AUTH error naming the registry. */
  denied(detail: string): CconvError {
    const who = this.credentials === undefined ? 'anonymous access' : 'the credentials given';
    return new CconvError('E_AUTH', `${this.registry}: ${detail} (${who})`, { hint: LOGIN_HINT });
  }

  private basicHeader(): string {
    if (this.credentials === undefined || !('username' in this.credentials)) throw this.denied('the registry requires a user name and password');
    return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
  }

  private async fetchToken(ch: Challenge, scopes: string[]): Promise<CachedToken> {
    const realm = ch.params.realm;
    if (realm === undefined || !/^https?:\/\//.test(realm)) throw this.denied('the bearer challenge has no usable realm');
    const service = ch.params.service;
    const url = new URL(realm);
    const creds = this.credentials;
    let res;
    if (creds !== undefined && 'identityToken' in creds) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'cconv' });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.http.request({
        method: 'POST',
        url: url.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await this.http.request({ method: 'GET', url: url.toString(), headers });
    }
    const body = await readJsonBody(res.body);
    if (res.status === 401 || res.status === 403) throw this.denied(`the token server ${url.host} refused (${res.status})`);
    const doc = body as { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    const value = typeof doc?.access_token === 'string' && doc.access_token !== '' ? doc.access_token : doc?.token;
    if (res.status !== 200 || typeof value !== 'string' || value === '') {
      throw new CconvError('E_REGISTRY', `${this.registry}: the token server ${url.host} answered ${res.status} without a token`);
    }
    const seconds = typeof doc?.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    return { value, expires: Date.now() + Math.max(seconds - 10, 5) * 1000 };
  }
}

/** The WWW-Authenticate header of a response. */
export function authenticateHeader(headers: Record<string, string | string[] | undefined>): string | undefined {
  return headerValue(headers['www-authenticate']);
}
