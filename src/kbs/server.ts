/**
 * The key broker's TLS server: the server side of Gramine's secret provisioning (protocol.ts),
 * with the RA-TLS checks (ratls.ts) and quote verification (quote.ts) done here, after the
 * handshake and before a single application byte is sent.
 *
 * Per connection, in this order: TLS 1.2/1.3 handshake with a required client certificate (Node
 * is told not to judge it: `rejectUnauthorized: false`, since an RA-TLS certificate is self-signed;
 * the handshake still proves that the client holds its key) -> refuse a resumed session (every
 * connection must present its certificate) -> extract the quote and check that it binds the key ->
 * fetch collateral, verify the quote -> `decide` -> read the 35-byte request -> send the response
 * header and the key -> close_notify. A refusal at any step closes the connection without sending
 * anything. Exactly one audit record is written per connection, including failed handshakes.
 */
import { constants as cryptoConstants } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { SecretKey } from '../encrypt/keys.ts';
import { identityFields, type AuditRecord, type AuditStage } from './audit.ts';
import { REQUEST_BYTES, isRequest, responseHeader, MAX_SECRET_SIZE } from './protocol.ts';
import type { QuoteVerifier, VerifiedQuote } from './quote.ts';
import { extractRaTlsQuote } from './ratls.ts';
import { isvReport } from './report.ts';

/** A verified enclave as `decide` sees it. */
export interface VerifiedEnclave extends VerifiedQuote {
  evidence: 'tcg-dice' | 'legacy';
  peer: string;
}

/** What `decide` answers: the key to send (with a label for the audit log), or a refusal. */
export type ReleaseDecision = { release: SecretKey; label?: string; reason?: string } | { refuse: string };

/** Options of startKbsServer. */
export interface KbsServerOptions {
  /** PEM certificate chain and key of the broker, which the enclave checks against its measured CA. */
  cert: string | Buffer;
  key: string | Buffer;
  verifier: QuoteVerifier;
  /** Collateral for a quote (a fixed document, or fetched for its FMSPC). */
  collateral: (quote: Uint8Array) => unknown;
  decide: (enclave: VerifiedEnclave) => ReleaseDecision | Promise<ReleaseDecision>;
  /** Receives one record per connection; must not throw. */
  audit: (record: AuditRecord) => void;
  /** Unix seconds; default the wall clock. */
  now?: () => number;
  /** How long to wait for the request once the quote is verified; default 10 s. */
  requestTimeoutMs?: number;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

/** A running broker. */
export interface KbsServer {
  host: string;
  port: number;
  /** Stops accepting, ends open connections, resolves when closed. */
  close(): Promise<void>;
}

type Outcome = { ok: true; record: Partial<AuditRecord>; key: SecretKey } | { ok: false; record: Partial<AuditRecord> };

const refuse = (stage: AuditStage, reason: string, extra: Partial<AuditRecord> = {}): Outcome => ({ ok: false, record: { stage, reason, ...extra } });

/** Starts the broker; resolves once it listens. */
export async function startKbsServer(options: KbsServerOptions): Promise<KbsServer> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const sockets = new Set<TLSSocket>();
  const audit = (peer: string, decision: AuditRecord['decision'], rest: Partial<AuditRecord>) => {
    options.audit({ time: new Date(now() * 1000).toISOString(), peer, decision, reason: '', ...rest });
  };

  const server = createServer({
    cert: options.cert,
    key: options.key,
    minVersion: 'TLSv1.2',
    requestCert: true,
    rejectUnauthorized: false,
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
  });
  server.on('tlsClientError', (err, socket) => {
    audit(`${socket.remoteAddress}:${socket.remotePort}`, 'refuse', { stage: 'tls', reason: `TLS handshake failed: ${err.message}` });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // reported through the outcome below
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const request = readRequest(socket);
    void serve(socket, peer, request).then((outcome) => {
      if (!outcome.ok) {
        socket.destroy();
        audit(peer, 'refuse', outcome.record);
        return;
      }
      const key = outcome.key.expose(); // the SecretKey's own buffer: written, never copied or logged
      socket.write(responseHeader(key.length));
      socket.write(key);
      socket.end(); // close_notify, as secret_provision_common_close()
      audit(peer, 'release', outcome.record);
    });
  });

  /** Every check up to the request; nothing is written to the socket here. */
  async function serve(socket: TLSSocket, peer: string, request: Promise<Buffer | string>): Promise<Outcome> {
    try {
      if (socket.isSessionReused()) return refuse('certificate', 'a resumed TLS session has no fresh RA-TLS certificate');
      const der = socket.getPeerCertificate(false)?.raw;
      if (der === undefined || der.length === 0) return refuse('certificate', 'the client sent no certificate');
      const ratls = extractRaTlsQuote(der);
      const claimed = ratls.quote === undefined ? undefined : isvReport(ratls.quote);
      const claimedFields = claimed === undefined ? {} : identityFields(claimed, false);
      if (!ratls.ok) return refuse(ratls.check, ratls.reason, claimedFields);
      let collateral: unknown;
      try {
        collateral = await options.collateral(ratls.quote);
      } catch (err) {
        return refuse('collateral', `no collateral for the quote: ${(err as Error).message}`, { evidence: ratls.format, ...claimedFields });
      }
      const verdict = options.verifier.verify(ratls.quote, collateral, now());
      if (!verdict.ok) return refuse('quote', verdict.reason, { check: verdict.check, evidence: ratls.format, ...claimedFields });
      const q = verdict.quote;
      const verified: Partial<AuditRecord> = { evidence: ratls.format, ...identityFields(q, true), tcbStatus: q.tcbStatus, advisoryIds: q.advisoryIds };
      const decision = await options.decide({ ...q, evidence: ratls.format, peer });
      if ('refuse' in decision) return refuse('decision', decision.refuse, verified);
      if (decision.release.length < 1 || decision.release.length > MAX_SECRET_SIZE) return refuse('decision', 'the key to release is empty or too large', verified);
      const req = await request;
      if (typeof req === 'string') return refuse('request', req, verified);
      if (!isRequest(req)) return refuse('request', 'the client did not send SECRET_PROVISION_RA_TLS_REQUEST_V1', verified);
      const labelled = decision.label === undefined ? {} : { keyLabel: decision.label };
      return { ok: true, key: decision.release, record: { reason: decision.reason ?? 'verified enclave; key released', ...verified, ...labelled } };
    } catch (err) {
      return refuse('decision', `internal error: ${(err as Error).message}`);
    }
  }

  /** Collects exactly the request's length; a string says why it never came. */
  function readRequest(socket: TLSSocket): Promise<Buffer | string> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => done(`no request within ${timeoutMs} ms`), timeoutMs);
      const done = (result: Buffer | string) => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        resolve(result);
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= REQUEST_BYTES.length) done(Buffer.concat(chunks).subarray(0, REQUEST_BYTES.length));
      };
      const onEnd = () => done('the client closed the connection before its request');
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
