/**
 * Azure Container Registry: turning a Microsoft Entra ID access token into registry credentials.
 * `POST https://REGISTRY/oauth2/exchange` (grant_type=access_token, service, access_token[, tenant])
 * returns an ACR refresh token; used as an identity token, the bearer flow then trades it at the
 * realm (`POST /oauth2/token`, grant_type=refresh_token, service, scope, refresh_token) for access
 * tokens. A token from `az acr login --expose-token` needs no exchange: it is the password of the
 * user `00000000-0000-0000-0000-000000000000` (see `acrTokenCredentials`).
 */
import { CconvError } from '../../errors.ts';
import { LOGIN_HINT, readJsonBody } from './auth.ts';
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
