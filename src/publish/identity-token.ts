/**
 * OIDC identity tokens for keyless signing: from an environment variable (`SIGSTORE_ID_TOKEN` or
 * one the user names), else from the GitHub Actions token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`
 * with bearer `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience `sigstore`). Tokens and the request token
 * never appear in errors.
 */
import { CconvError } from '../errors.ts';

/** Returns a fresh token each call. */
export type IdentityTokenProvider = () => Promise<string>;

/** Options of `identityTokenProvider`. */
export interface IdentityTokenOptions {
  /** Variable holding the token; default SIGSTORE_ID_TOKEN. */
  tokenEnv?: string;
  /** Audience asked of the GitHub Actions endpoint; default `sigstore`. */
  audience?: string;
  /** Injected fetch (tests); default the global one. */
  fetch?: typeof fetch;
}

/** The claims Fulcio needs, read (not verified: Fulcio verifies) from a JWT. E_AUTH when it is not one. */
export function tokenClaims(token: string): { iss: string; subject: string } {
  const parts = token.split('.');
  let claims: Record<string, unknown> | undefined;
  if (parts.length === 3) {
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      claims = undefined;
    }
  }
  const subject = typeof claims?.email === 'string' ? claims.email : claims?.sub;
  if (typeof claims?.iss !== 'string' || typeof subject !== 'string') {
    throw new CconvError('E_AUTH', 'the OIDC identity token is not a JWT with iss and sub/email claims');
  }
  // Fulcio certifies an e-mail only when the issuer vouches for it.
  if (typeof claims.email === 'string' && claims.email_verified !== true) {
    throw new CconvError('E_AUTH', 'the OIDC identity token has an e-mail claim its issuer did not verify (email_verified)');
  }
  return { iss: claims.iss, subject };
}

async function githubActionsToken(env: NodeJS.ProcessEnv, audience: string, doFetch: typeof fetch): Promise<string> {
  const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL!);
  url.searchParams.set('audience', audience);
  let res: Response;
  try {
    res = await doFetch(url, { headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN!}`, accept: 'application/json' } });
  } catch (err) {
    throw new CconvError('E_NETWORK', `GitHub Actions OIDC token endpoint unreachable: ${(err as Error).message}`);
  }
  if (res.status !== 200) {
    throw new CconvError('E_AUTH', `GitHub Actions OIDC token endpoint answered ${res.status}`, { hint: 'the workflow needs `permissions: id-token: write`' });
  }
  const body = (await res.json().catch(() => undefined)) as { value?: unknown } | undefined;
  if (typeof body?.value !== 'string') throw new CconvError('E_AUTH', 'GitHub Actions OIDC token endpoint answered without a token');
  return body.value;
}

/**
 * A provider reading `env` at call time. No source configured is E_AUTH with a hint; a token that
 * is not a JWT with iss and sub/email is E_AUTH.
 */
export function identityTokenProvider(env: NodeJS.ProcessEnv, options: IdentityTokenOptions = {}): IdentityTokenProvider {
  const name = options.tokenEnv ?? 'SIGSTORE_ID_TOKEN';
  return async () => {
    let token = env[name];
    if (token === undefined || token === '') {
      if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
        token = await githubActionsToken(env, options.audience ?? 'sigstore', options.fetch ?? fetch);
      } else {
        throw new CconvError('E_AUTH', `keyless signing needs an OIDC identity token: ${name} is not set and this is not a GitHub Actions job with id-token permission`, {
          hint: `set ${name} to a token for audience "sigstore", or sign with --key`,
        });
      }
    }
    tokenClaims(token);
    return token;
  };
}
