/**
 * Azure Container Registry: turning a Microsoft Entra ID access token into registry credentials.
 * `POST https://REGISTRY/oauth2/exchange` (grant_type=access_token, service, access_token[, tenant])
 * returns an ACR refresh token; used as an identity token, the bearer flow then trades it at the
 * realm (`POST /oauth2/token`, grant_type=refresh_token, service, scope, refresh_token) for access
 * tokens. A token from `az acr login --expose-token` needs no exchange: it is the password of the
 * user `00000000-0000-0000-0000-000000000000` (see `acrTokenCredentials`).
 */
import { CconvError } from '../../errors.ts';
import { LOGIN_HINT, authenticateHeader, readJsonBody } from './auth.ts';
import { parseChallenges, pickChallenge } from './challenge.ts';
import type { Credentials } from './credentials.ts';
import type { HttpTransport } from './http.ts';

/** The user name ACR expects with a token from `az acr login --expose-token`. */
export const ACR_TOKEN_USER = '00000000-0000-0000-0000-000000000000';

/** Credentials for an `az acr login --expose-token` access token. */
export function acrTokenCredentials(token: string): Credentials {
  return { username: ACR_TOKEN_USER, password: token };
}

/** Inputs of `exchangeEntraToken`. */
export interface EntraExchange {
  /** The registry host, e.g. `myacr.azurecr.io` (also the `service`). */
  registry: string;
  /** An Entra ID access token for the ACR resource. */
  accessToken: string;
  tenant?: string;
  /** Base URL of the registry; default `https://REGISTRY`. */
  baseUrl?: string;
}

/** Exchanges an Entra ID access token for an ACR refresh token, returned as identity-token credentials. */
export async function exchangeEntraToken(http: HttpTransport, input: EntraExchange): Promise<Credentials> {
  const base = input.baseUrl ?? `https://${input.registry}`;
  const form = new URLSearchParams({ grant_type: 'access_token', service: input.registry, access_token: input.accessToken });
  if (input.tenant !== undefined) form.set('tenant', input.tenant);
  const res = await http.request({
    method: 'POST',
    url: new URL('/oauth2/exchange', base).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from(form.toString()),
  });
  const body = (await readJsonBody(res.body)) as { refresh_token?: unknown } | undefined;
  if (res.status === 401 || res.status === 403) {
    throw new CconvError('E_AUTH', `${input.registry}: the Entra ID token was refused (${res.status})`, { hint: LOGIN_HINT });
  }
  if (res.status !== 200 || typeof body?.refresh_token !== 'string' || body.refresh_token === '') {
    throw new CconvError('E_REGISTRY', `${input.registry}: /oauth2/exchange answered ${res.status} without a refresh token`);
  }
  return { identityToken: body.refresh_token };
}

/**
 * True when the registry at `baseUrl` answers an anonymous `GET /v2/` with ACR's challenge: Bearer
 * with realm `/oauth2/token` on the registry's own host. Lets a caller send an Entra ID token only
 * to registries that speak ACR's token exchange (never to, say, Docker Hub, whose realm is
 * auth.docker.io). Sends no credentials; E_NETWORK when the registry is unreachable.
 */
export async function speaksAcrOAuth(http: HttpTransport, baseUrl: string): Promise<boolean> {
  const res = await http.request({ method: 'GET', url: new URL('/v2/', baseUrl).toString() });
  res.body.resume();
  if (res.status !== 401) return false;
  const challenge = pickChallenge(parseChallenges(authenticateHeader(res.headers) ?? ''));
  if (challenge?.scheme !== 'bearer' || challenge.params.realm === undefined) return false;
  try {
    const realm = new URL(challenge.params.realm);
    return realm.host === new URL(baseUrl).host && realm.pathname === '/oauth2/token';
  } catch {
    return false;
  }
}
