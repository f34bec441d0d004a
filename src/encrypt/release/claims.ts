/**
 * Reading attestation claims for `cconv policy check`: a JSON object (an MAA token's payload), or
 * an MAA token itself (compact JWT "header.payload.signature", optionally inside a JSON object
 * {"token": "..."} as MAA's attest API returns it), whose payload is decoded WITHOUT checking the
 * signature: this is for testing a policy, not for trusting a token.
 */
import { CconvError } from '../../errors.ts';

const JWT = /^[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/;

function decodeJwtPayload(token: string): unknown {
  const m = JWT.exec(token.trim());
  if (m === null) throw new CconvError('E_CONFIG', 'attestation token is not a compact JWT (header.payload.signature)');
  try {
    return JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new CconvError('E_CONFIG', 'attestation token payload is not JSON');
  }
}

/**
 * Parses claims text (see module comment) into the claims object. E_CONFIG when it is neither a
 * JSON object nor a JWT, or the payload is not an object.
 */
export function parseAttestationClaims(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  let value: unknown;
  if (trimmed.startsWith('{')) {
    try {
      value = JSON.parse(trimmed) as unknown;
    } catch (err) {
      throw new CconvError('E_CONFIG', `attestation claims are not valid JSON: ${(err as Error).message}`);
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'token' && typeof obj.token === 'string') value = decodeJwtPayload(obj.token);
  } else {
    value = decodeJwtPayload(trimmed);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CconvError('E_CONFIG', 'attestation claims must be a JSON object');
  }
  return value as Record<string, unknown>;
}
