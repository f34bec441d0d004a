/**
 * HTTP(S) requests for the registry client on Node's http/https: TLS with system CAs plus an
 * optional CA file, bounded exponential backoff on 408/429/5xx and connection errors (honouring
 * Retry-After), idle timeouts, a minimum transfer speed (speed.ts), and same-host-only redirects
 * of credentials. Header values never appear in errors or logs.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { CconvError, wrapIoError } from '../../errors.ts';
import { watchSpeed, writeSlices } from './speed.ts';

/** Connection options shared by every request to one registry. */
export interface HttpOptions {
  /** PEM file with extra CA certificates, trusted in addition to the system ones. */
  caFile?: string;
  /** Skip TLS certificate verification (only when the user asks for it). */
  insecure?: boolean;
  /** Retries after the first attempt for retryable failures; default 4. */
  retries?: number;
  /** First backoff delay in ms, doubled per retry; default 250. */
  retryBaseMs?: number;
  /** Upper bound of one backoff delay (and of an honoured Retry-After) in ms; default 10 000. */
  retryMaxMs?: number;
  /**
   * Socket idle timeout in ms, and the longest wait for a response's headers once the request is
   * sent; default 60 000.
   */
  timeoutMs?: number;
  /**
   * Bytes per second a request body or response body must keep up, averaged over `speedWindowMs`
   * (see speed.ts); a slower transfer fails with E_NETWORK, without retry. 0 turns the check off;
   * default 1024.
   */
  minSpeed?: number;
  /** The window in ms over which `minSpeed` is judged; default 30 000. */
  speedWindowMs?: number;
}

/** One request. A `Readable` body is sent once (never retried); a Buffer body may be replayed. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Follow 3xx redirects for GET/HEAD (up to 5); the Authorization header is dropped on a host change. */
  followRedirects?: boolean;
  /** Whether failures may be retried; default true (forced false for a Readable body). */
  retry?: boolean;
}

/** A response whose body the caller must consume or destroy. `url` is the final URL after redirects. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: string;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Delay in ms asked by a Retry-After header (seconds or HTTP date), or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The backoff before retry number `attempt` (0-based): base * 2^attempt, at most max. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** attempt);
}

/** True for a raw connection error a retry may cure (reset, refused, timed out, premature close). */
export function isRetryableError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && (RETRY_CODES.has(code) || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).message === 'socket hang up');
}

/** True for a status a retry may cure: 408, 429, 500, 502, 503, 504. */
export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUS.has(status);
}

/**
 * True when `err` is the E_NETWORK `HttpTransport.request` throws for a connection failure a retry
 * may cure; false for a too-slow transfer (speed.ts) and every other error.
 */
export function isRetryableFailure(err: unknown): boolean {
  return err instanceof CconvError && err.code === 'E_NETWORK' && isRetryableError(err.cause);
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends requests for one registry (keep-alive agents; `close()` releases idle sockets). */
export class HttpTransport {
  private readonly options: Required<Omit<HttpOptions, 'caFile' | 'insecure'>>;
  private readonly httpsAgent: HttpsAgent;
  private readonly httpAgent = new HttpAgent({ keepAlive: true });

  constructor(options: HttpOptions = {}) {
    this.options = {
      retries: options.retries ?? 4,
      retryBaseMs: options.retryBaseMs ?? 250,
      retryMaxMs: options.retryMaxMs ?? 10_000,
      timeoutMs: options.timeoutMs ?? 60_000,
      minSpeed: options.minSpeed ?? 1024,
      speedWindowMs: options.speedWindowMs ?? 30_000,
    };
    // One TLS context for every connection: with `ca` alone, each new socket (one per parallel
    // blob) would parse the whole system CA list again. Keep-alive, no socket cap: parallel blob
    // copies each get a connection and reuse it for the next blob.
    let secureContext: SecureContext | undefined;
    if (options.caFile !== undefined && options.caFile !== '') {
      try {
        secureContext = createSecureContext({ ca: [...rootCertificates, readFileSync(options.caFile, 'utf8')] });
      } catch (err) {
        throw wrapIoError(err, `reading CA file ${options.caFile}`);
      }
    }
    this.httpsAgent = new HttpsAgent({ keepAlive: true, ...(secureContext === undefined ? {} : { secureContext }), rejectUnauthorized: options.insecure !== true });
  }

  /**
   * Sends `req`, retrying retryable statuses and connection errors with backoff. Returns the last
   * response whatever its status; throws E_NETWORK when no response came after the retries.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const retries = req.retry === false || req.body instanceof Readable ? 0 : this.options.retries;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.follow(req);
      } catch (err) {
        if (err instanceof CconvError) throw err;
        if (attempt < retries && isRetryableError(err)) {
          await sleep(backoffDelay(attempt, this.options.retryBaseMs, this.options.retryMaxMs));
          continue;
        }
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new CconvError('E_NETWORK', `${req.method} ${new URL(req.url).host}: ${code}${attempt > 0 ? ` (after ${attempt + 1} attempts)` : ''}`, {
          cause: err,
          hint: 'check that the registry is reachable (host, port, proxy, TLS settings)',
        });
      }
      if (attempt < retries && RETRY_STATUS.has(res.status)) {
        res.body.resume();
        await sleep(this.retryDelay(attempt, res));
        continue;
      }
      return res;
    }
  }

  /** Retries after the first attempt that callers retrying on their own may make (same budget as `request`). */
  get retries(): number {
    return this.options.retries;
  }

  /**
   * The wait in ms before retry number `attempt` (0-based): the response's Retry-After when it has
   * one, else the exponential backoff; never more than retryMaxMs.
   */
  retryDelay(attempt: number, res?: HttpResponse): number {
    const asked = res === undefined ? undefined : parseRetryAfter(headerValue(res.headers['retry-after']));
    return asked !== undefined ? Math.min(asked, this.options.retryMaxMs) : backoffDelay(attempt, this.options.retryBaseMs, this.options.retryMaxMs);
  }

  /** Releases pooled sockets. */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }

  private async follow(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let headers = { ...req.headers };
    for (let hop = 0; ; hop++) {
      const res = await this.once(req.method, url, headers, req.body);
      const location = headerValue(res.headers.location);
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && location !== undefined;
      if (!redirect || req.followRedirects !== true || (req.method !== 'GET' && req.method !== 'HEAD') || hop >= 5) return res;
      res.body.resume();
      const next = new URL(location, url);
      if (next.host !== new URL(url).host) {
        // Blob storage redirects carry their own signed query; never send registry credentials there.
        const { authorization: _dropped, Authorization: _dropped2, ...rest } = headers;
        headers = rest;
      }
      url = next.toString();
    }
  }

  private once(method: string, url: string, headers: Record<string, string>, body: Buffer | Readable | undefined): Promise<HttpResponse> {
    const target = new URL(url);
    const isHttps = target.protocol === 'https:';
    const send = isHttps ? httpsRequest : httpRequest;
    const allHeaders: Record<string, string> = { 'user-agent': 'cconv', ...headers };
    if (Buffer.isBuffer(body)) allHeaders['content-length'] = String(body.length);
    else if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH')) allHeaders['content-length'] = '0';
    return new Promise((resolve, reject) => {
      const req = send(target, { method, headers: allHeaders, agent: isHttps ? this.httpsAgent : this.httpAgent, timeout: this.options.timeoutMs }, (res) => {
        res.setTimeout(this.options.timeoutMs, () => res.destroy(Object.assign(new Error('response timed out'), { code: 'ETIMEDOUT' })));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      const { minSpeed, speedWindowMs: windowMs, timeoutMs: headersTimeoutMs } = this.options;
      const watch = watchSpeed(req, `${method} ${target.host}`, { minSpeed, windowMs, headersTimeoutMs });
      if (body instanceof Readable) {
        body.on('error', (err) => req.destroy(err));
        body.on('data', (chunk: Buffer) => watch.flushed(chunk.length)); // handed over, not flushed: pipe keeps the two close
        body.pipe(req);
      } else {
        writeSlices(req, body, (n) => watch.flushed(n));
      }
    });
  }
}

/** First value of a header that may be repeated. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
