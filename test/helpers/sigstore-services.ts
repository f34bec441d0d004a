/**
 * Local stand-ins for sigstore's public services, with real crypto, on one HTTP server at
 * 127.0.0.1 (test traffic never leaves the machine):
 * - an OIDC issuer minting ES256 JWTs (`token()`), and the GitHub Actions token endpoint
 *   (`GET /actions/token?audience=...`, bearer `actionsRequestToken`);
 * - Fulcio `POST /api/v2/signingCert`: checks the token's signature, issuer, audience and expiry
 *   and the proof of possession (signature over the e-mail/sub claim), then issues a certificate
 *   (SAN = identity, Fulcio issuer extensions, embedded SCT from a CT log) from @sigstore/mock's CA;
 * - Rekor `POST /api/v1/log/entries` for `dsse` v0.0.1: verifies the envelope signature with the
 *   given certificate, canonicalises the entry as Rekor does (envelope/payload hashes, signatures)
 *   and logs it with @sigstore/mock's log (signed entry timestamp, signed checkpoint, proof).
 * `trustedRoot` is the trusted_root.json that makes @sigstore/verify accept all of it.
 * From @sigstore/mock only the CA and the transparency log are used (deep imports: its index loads nock); the CT log is ours.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { initializeCA } from '@sigstore/mock/dist/fulcio/index.js';
import { initializeTLog } from '@sigstore/mock/dist/rekor/index.js';

/** The OIDC issuer URL the test tokens carry. */
export const TEST_ISSUER = 'https://oidc.cconv.test';

/** Running doubles. */
export interface SigstoreDoubles {
  /** Base URL serving both Fulcio and Rekor paths, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  /** A signed JWT for `identity` (verified e-mail claim for `user@host`, else `sub`) from TEST_ISSUER, audience `sigstore` unless given. */
  token(identity: string, options?: { audience?: string; issuer?: string; expiresIn?: number }): string;
  /** The GitHub Actions endpoint's URL and bearer token; it hands out `token(actionsIdentity)`. */
  actionsRequestUrl: string;
  actionsRequestToken: string;
  actionsIdentity: string;
  /** trusted_root.json (protobuf JSON form) for the CA, the CT log and the transparency log. */
  trustedRoot: Record<string, unknown>;
  /** Requests received, by path (to assert what was called). */
  calls: string[];
  stop(): Promise<void>;
}

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const spkiDer = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

/** DSSE pre-authentication encoding. */
function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

/** Length of the DER TLV starting at `offset`: [header length, content length]. */
function derLength(der: Buffer, offset: number): [number, number] {
  const first = der[offset + 1]!;
  if (first < 0x80) return [2, first];
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[offset + 2 + i]!;
  return [2 + n, len];
}

/** The tbsCertificate (first element of the Certificate SEQUENCE) of a DER certificate. */
function tbsOf(cert: Buffer): Buffer {
  const [outerHeader] = derLength(cert, 0);
  const [header, length] = derLength(cert, outerHeader);
  return cert.subarray(outerHeader, outerHeader + header + length);
}

/**
 * A CT log (RFC 6962) for precertificates: signs the `digitally-signed` struct over issuer key hash
 * and TBS, and returns the SCT prefixed with its 2-byte length (one SerializedSCT of the list).
 */
function ctLog(keys: { publicKey: KeyObject; privateKey: KeyObject }): { publicKey: Buffer; logID: Buffer; log: (cert: ArrayBuffer, issuerId: ArrayBuffer) => Promise<ArrayBuffer> } {
  const publicKey = spkiDer(keys.publicKey);
  const logID = createHash('sha256').update(publicKey).digest();
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  return {
    publicKey,
    logID,
    log: async (cert, issuerId) => {
      const tbs = tbsOf(Buffer.from(cert));
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(Date.now()));
      const signed = Buffer.concat([Buffer.from([0, 0]), time, u16(1), Buffer.from(issuerId), Buffer.from([tbs.length >> 16, (tbs.length >> 8) & 0xff, tbs.length & 0xff]), tbs, u16(0)]);
      const sig = cryptoSign('sha256', signed, keys.privateKey);
      const sct = Buffer.concat([Buffer.from([0]), logID, time, u16(0), Buffer.from([4, 3]), u16(sig.length), sig]);
      const out = Buffer.concat([u16(sct.length), sct]);
      return out.buffer.slice(out.byteOffset, out.byteOffset + out.length) as ArrayBuffer;
    },
  };
}

/** Starts the doubles; call `stop()` when done. */
export async function startSigstoreDoubles(): Promise<SigstoreDoubles> {
  const oidc = p256();
  const ctKeys = p256();
  const tlogKeys = p256();
  const caKeys = p256();
  const calls: string[] = [];
  const actionsRequestToken = 'actions-request-token-for-tests';
  const actionsIdentity = 'https://github.com/cconv/cconv/.github/workflows/build.yml@refs/heads/main';

  const token = (identity: string, options: { audience?: string; issuer?: string; expiresIn?: number } = {}): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'test' }));
    // An e-mail identity goes in a verified `email` claim; a URI identity (CI workload) is the `sub`.
    const who = /^[^/@]+@[^/@]+$/.test(identity) ? { sub: 'user-1234', email: identity, email_verified: true } : { sub: identity };
    const claims = b64url(JSON.stringify({ iss: options.issuer ?? TEST_ISSUER, aud: options.audience ?? 'sigstore', ...who, iat: now, exp: now + (options.expiresIn ?? 300) }));
    const sig = cryptoSign('sha256', Buffer.from(`${header}.${claims}`), { key: oidc.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${header}.${claims}.${b64url(sig)}`;
  };

  /** Verifies a JWT as Fulcio would; returns its claims or a reason. */
  const checkToken = (jwt: unknown): { claims: Record<string, unknown> } | { error: string } => {
    if (typeof jwt !== 'string' || jwt.split('.').length !== 3) return { error: 'malformed token' };
    const [h, c, s] = jwt.split('.') as [string, string, string];
    const ok = cryptoVerify('sha256', Buffer.from(`${h}.${c}`), { key: oidc.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok) return { error: 'bad token signature' };
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
    if (claims.iss !== TEST_ISSUER) return { error: 'unknown issuer' };
    if (claims.aud !== 'sigstore') return { error: 'wrong audience' };
    if (typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) return { error: 'token expired' };
    return { claims };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      calls.push(`${req.method} ${path}`);
      if (req.method === 'GET' && path === '/actions/token') {
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.headers.authorization !== `Bearer ${actionsRequestToken}`) return reply(res, 401, { message: 'bad request token' });
        return reply(res, 200, { value: token(actionsIdentity, { audience: url.searchParams.get('audience') ?? 'none' }) });
      }
      if (req.method === 'POST' && path === '/api/v2/signingCert') {
        const request = JSON.parse(await body(req)) as { credentials?: { oidcIdentityToken?: string }; publicKeyRequest?: { publicKey?: { content?: string }; proofOfPossession?: string } };
        const checked = checkToken(request.credentials?.oidcIdentityToken);
        if ('error' in checked) return reply(res, 401, { code: 16, message: checked.error });
        const subject = String(checked.claims.email ?? checked.claims.sub);
        const keyPem = request.publicKeyRequest?.publicKey?.content ?? '';
        const key = createPublicKey(keyPem);
        if (!cryptoVerify('sha256', Buffer.from(subject), key, Buffer.from(request.publicKeyRequest?.proofOfPossession ?? '', 'base64'))) {
          return reply(res, 400, { code: 3, message: 'proof of possession does not verify' });
        }
        const issuer = String(checked.claims.iss);
        const leaf = await ca.issueCertificate({
          publicKey: spkiDer(key),
          subjectAltName: subject,
          extensions: [{ oid: '1.3.6.1.4.1.57264.1.1', value: issuer, legacy: true }, { oid: '1.3.6.1.4.1.57264.1.8', value: issuer }],
        });
        return reply(res, 201, { signedCertificateEmbeddedSct: { chain: { certificates: [pem(leaf), pem(ca.rootCertificate)] } } });
      }
      if (req.method === 'POST' && path === '/api/v1/log/entries') {
        const proposed = JSON.parse(await body(req)) as { kind?: string; apiVersion?: string; spec?: { proposedContent?: { envelope?: string; verifiers?: string[] } } };
        const content = proposed.spec?.proposedContent;
        if (proposed.kind !== 'dsse' || proposed.apiVersion !== '0.0.1' || typeof content?.envelope !== 'string' || content.verifiers?.length !== 1) {
          return reply(res, 400, { code: 400, message: 'only dsse 0.0.1 entries with one verifier' });
        }
        const envelope = JSON.parse(content.envelope) as { payloadType: string; payload: string; signatures: Array<{ sig: string }> };
        const verifier = content.verifiers[0]!;
        const cert = new X509Certificate(Buffer.from(verifier, 'base64'));
        const payload = Buffer.from(envelope.payload, 'base64');
        const sig = envelope.signatures[0]?.sig ?? '';
        if (envelope.signatures.length !== 1 || !cryptoVerify('sha256', pae(envelope.payloadType, payload), cert.publicKey, Buffer.from(sig, 'base64'))) {
          return reply(res, 400, { code: 400, message: 'envelope signature does not verify' });
        }
        const hash = (d: Buffer | string) => ({ algorithm: 'sha256', value: createHash('sha256').update(d).digest('hex') });
        const canonical = { apiVersion: '0.0.1', kind: 'dsse', spec: { envelopeHash: hash(content.envelope), payloadHash: hash(payload), signatures: [{ signature: sig, verifier }] } };
        return reply(res, 201, await tlog.log(canonical));
      }
      return reply(res, 404, { message: 'not found' });
    })().catch((err: unknown) => reply(res, 500, { message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  // The CT log is ours: @sigstore/mock 0.11's serialises SCTs with an empty signature (with the
  // current pkijs) and its CA omits each SCT's length in the list. The CA still embeds what we return.
  const ctlog = ctLog(ctKeys);
  // One fixed clock, on a whole second just after the CA root's notBefore, for the certificates
  // and the log: certificate times are encoded to the second, so with each service reading its own
  // clock a leaf's notBefore could land after the log's integratedTime (a rare, flaky
  // "certificate is not valid at the specified date").
  const clock = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
  const ca = await initializeCA(caKeys, ctlog, clock);
  const tlog = await initializeTLog(url, tlogKeys, clock);
  const start = new Date(Date.now() - 3600_000).toISOString();
  const logKey = (der: Buffer) => ({ rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: url, hashAlgorithm: 'SHA2_256', publicKey: logKey(tlog.publicKey), logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') } }],
    certificateAuthorities: [{ subject: { organization: 'sigstore.mock', commonName: 'sigstore' }, uri: url, certChain: { certificates: [{ rawBytes: ca.rootCertificate.toString('base64') }] }, validFor: { start } }],
    ctlogs: [{ baseUrl: 'https://ct.cconv.test', hashAlgorithm: 'SHA2_256', publicKey: logKey(ctlog.publicKey), logId: { keyId: ctlog.logID.toString('base64') } }],
    timestampAuthorities: [],
  };
  return {
    url,
    token,
    actionsRequestUrl: `${url}/actions/token?api-version=2.0`,
    actionsRequestToken,
    actionsIdentity,
    trustedRoot,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
