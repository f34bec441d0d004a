/**
 * Signing statements into sigstore bundles (v0.3, DSSE envelope) with @sigstore/sign. Two key
 * holders: a local ECDSA P-256 key (verification material: a public-key hint, no transparency
 * log, for offline and air-gapped use), or keyless (an ephemeral key certified by Fulcio for an
 * OIDC identity, the signature recorded in Rekor; the bundle carries the certificate and the tlog
 * entry). sigstore errors become E_SIGNER / E_AUTH / E_NETWORK without their raw text (it may
 * quote the identity token).
 */
import { sign as cryptoSign, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL, DSSEBundleBuilder, FulcioSigner, RekorWitness, type Signer, type Witness } from '@sigstore/sign';
import { CconvError } from '../errors.ts';
import { canonicalJson } from './canonical.ts';
import type { IdentityTokenProvider } from './identity-token.ts';
import { sigstoreKeyId } from './keys.ts';
import { INTOTO_PAYLOAD_TYPE, statementBytes, type Statement } from './statement.ts';

/** Media type of the bundles cconv writes (and of their referrer artifacts). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export { DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL };

/** How to sign: a local key, or keyless through Fulcio and Rekor. */
export type SigningMethod =
  | { kind: 'key'; privateKey: KeyObject }
  | {
      kind: 'keyless';
      identityToken: IdentityTokenProvider;
      /** Default the public-good instance, https://fulcio.sigstore.dev. */
      fulcioUrl?: string;
      /** Default the public-good instance, https://rekor.sigstore.dev. */
      rekorUrl?: string;
      /** HTTP timeout per request in ms; default 30 000. */
      timeoutMs?: number;
      /** Retries of 408/429/5xx and connection failures; default 2. */
      retries?: number;
    };

/** A signed statement: the bundle (JSON object) and its exact serialised bytes. */
export interface SignedBundle {
  bundle: SerializedBundle;
  /** Canonical JSON of `bundle`: what is stored in the registry. */
  bytes: Buffer;
}

/** A sigstore Signer over a local P-256 key: ECDSA-SHA256 (DER), key material a public-key hint. */
export function localKeySigner(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const hint = sigstoreKeyId(publicKey);
  return {
    sign: async (data) => ({ signature: cryptoSign('sha256', data, privateKey), key: { $case: 'publicKey', publicKey: pem, hint } }),
  };
}

function checkUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CconvError('E_USAGE', `${what} ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && /^(localhost|127\.0\.0\.1|\[::1\])$/.test(parsed.hostname))) {
    throw new CconvError('E_USAGE', `${what} must be https (plain http only for localhost): ${url}`);
  }
  return url.replace(/\/+$/, '');
}

function signerAndWitnesses(method: SigningMethod): { signer: Signer; witnesses: Witness[] } {
  if (method.kind === 'key') return { signer: localKeySigner(method.privateKey), witnesses: [] };
  const fetchOptions = { timeout: method.timeoutMs ?? 30_000, retry: { retries: method.retries ?? 2, factor: 2, minTimeout: 200, maxTimeout: 5_000 } };
  const signer = new FulcioSigner({
    fulcioBaseURL: checkUrl(method.fulcioUrl ?? DEFAULT_FULCIO_URL, 'Fulcio URL'),
    identityProvider: { getToken: method.identityToken },
    ...fetchOptions,
  });
  const witness = new RekorWitness({ rekorBaseURL: checkUrl(method.rekorUrl ?? DEFAULT_REKOR_URL, 'Rekor URL'), entryType: 'dsse', majorApiVersion: 1, ...fetchOptions });
  return { signer, witnesses: [witness] };
}

/** Maps a sigstore-js failure to a CconvError; the raw message is kept only when it cannot hold a token. */
function signingError(err: unknown): CconvError {
  if (err instanceof CconvError) return err;
  const e = err as { code?: string; cause?: unknown; message?: string };
  // Our own identity-token provider's CconvError, wrapped once or twice by sigstore-js.
  for (let c: unknown = e.cause, depth = 0; c !== undefined && depth < 3; c = (c as { cause?: unknown }).cause, depth++) {
    if (c instanceof CconvError) return c;
  }
  const status = (e.cause as { statusCode?: unknown } | undefined)?.statusCode;
  const detail = typeof status === 'number' ? ` (HTTP ${status})` : '';
  switch (e.code) {
    case 'IDENTITY_TOKEN_READ_ERROR':
    case 'IDENTITY_TOKEN_PARSE_ERROR':
      return new CconvError('E_AUTH', 'could not read the OIDC identity token');
    case 'CA_CREATE_SIGNING_CERTIFICATE_ERROR':
      return new CconvError(status === 401 || status === 403 ? 'E_AUTH' : typeof status === 'number' ? 'E_SIGNER' : 'E_NETWORK', `Fulcio did not issue a signing certificate${detail}`, {
        hint: 'check --fulcio-url and that the identity token is fresh and for audience "sigstore"',
      });
    case 'TLOG_CREATE_ENTRY_ERROR':
      return new CconvError(typeof status === 'number' ? 'E_SIGNER' : 'E_NETWORK', `Rekor did not record the signature${detail}`, { hint: 'check --rekor-url' });
    default:
      return new CconvError('E_SIGNER', `sigstore signing failed: ${e.code ?? 'error'}`, { cause: err });
  }
}

/** Signs `statement` (DSSE over its canonical JSON, payload type in-toto) into a v0.3 bundle. */
export async function signStatement(statement: Statement, method: SigningMethod): Promise<SignedBundle> {
  const { signer, witnesses } = signerAndWitnesses(method);
  const builder = new DSSEBundleBuilder({ signer, witnesses, certificateChain: false });
  let bundle;
  try {
    bundle = await builder.create({ data: statementBytes(statement), type: INTOTO_PAYLOAD_TYPE });
  } catch (err) {
    throw signingError(err);
  }
  const json = bundleToJSON(bundle);
  if (json.mediaType !== SIGSTORE_BUNDLE_MEDIA_TYPE) throw new CconvError('E_INTERNAL', `sigstore produced a bundle of type ${json.mediaType}`);
  return { bundle: json, bytes: Buffer.from(canonicalJson(json), 'utf8') };
}
