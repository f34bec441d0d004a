/**
 * A blob download that survives a cut: when the body ends before the blob's size, or the
 * connection fails mid-body (reset, premature close, idle timeout), the rest is asked again with
 * `Range: bytes=N-` after the client's backoff, within its retry budget. A registry that answers
 * the range with 206 continues where the cut was; one that ignores it (200) sends the blob again
 * and the bytes already delivered are skipped. Bytes are only passed on, never checked here: the
 * consumer's digest verifier sees the whole blob, seams included. A too-slow transfer (speed.ts)
 * is not retried.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { headerValue, isRetryableError, sleep, type HttpResponse } from './http.ts';

/** How `resumableBlob` asks for the rest and how often. */
export interface ResumeOptions {
  /** Names the blob and registry in errors. */
  what: string;
  /** Sends the GET for the blob from byte `from` on (a Range request when from > 0); throws CconvErrors for failed statuses. */
  open: (from: number) => Promise<HttpResponse>;
  /** Resumes after the first cut, at most. */
  retries: number;
  /** The wait in ms before resume number `attempt` (0-based). */
  delay: (attempt: number) => number;
}

/** How many leading bytes of `res` (asked from byte `from`) were delivered already; E_REGISTRY for a range that starts after `from`. */
function bytesToSkip(res: HttpResponse, from: number, what: string): number {
  if (res.status !== 206) return from; // the range was ignored: the whole blob again
  const start = /^bytes (\d+)-/.exec(headerValue(res.headers['content-range']) ?? '');
  if (start === null || Number(start[1]) > from) {
    res.body.destroy();
    throw new CconvError('E_REGISTRY', `${what}: asked for bytes from ${from} on, the registry answered the range ${JSON.stringify(headerValue(res.headers['content-range']) ?? '')}`);
  }
  return from - Number(start[1]);
}

/** The stream handed out: counts the bytes it passed on, after dropping `skip` leading ones. */
class Joined extends Transform {
  delivered = 0;
  skip = 0;

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let chunk = data;
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, chunk.length);
      this.skip -= dropped;
      chunk = chunk.subarray(dropped);
    }
    this.delivered += chunk.length;
    cb(null, chunk.length > 0 ? chunk : undefined);
  }
}

/**
 * The blob of `size` bytes whose first response is `first`, as one stream that resumes after cuts
 * (see the module comment). Each response is piped into it in turn (native stream speed, no
 * per-chunk async step). Errors are CconvErrors: E_NETWORK once the resumes are spent, and what
 * `options.open` throws. Destroying the stream releases the current response.
 */
export function resumableBlob(first: HttpResponse, size: number, options: ResumeOptions): Readable {
  const out = new Joined();
  let current = first;
  let attempt = 0;
  const fail = (reason: string): void => {
    const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
    out.destroy(new CconvError('E_NETWORK', `${options.what}: ${reason} after ${out.delivered} of ${size} bytes${tries}`, { hint: 'the registry or a proxy on the way cut the download; try again' }));
  };
  const resume = async (reason: string): Promise<void> => {
    if (attempt >= options.retries) return fail(reason);
    await sleep(options.delay(attempt++));
    if (out.destroyed) return;
    try {
      const next = await options.open(out.delivered);
      out.skip = bytesToSkip(next, out.delivered, options.what);
      if (out.destroyed) return void next.body.destroy();
      attach(next);
    } catch (err) {
      out.destroy(err as Error);
    }
  };
  const attach = (res: HttpResponse): void => {
    current = res;
    res.body.on('end', () => {
      // More than `size` is the consumer's digest verifier's to judge.
      if (out.delivered >= size) out.end();
      else void resume('the body ended early');
    });
    res.body.on('error', (err) => {
      res.body.unpipe(out);
      if (err instanceof CconvError) return void out.destroy(err); // e.g. too slow (speed.ts): not retried
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      if (!isRetryableError(err)) return void out.destroy(new CconvError('E_NETWORK', `${options.what}: ${code} after ${out.delivered} of ${size} bytes`, { cause: err }));
      void resume(`the connection failed (${code})`);
    });
    res.body.pipe(out, { end: false });
  };
  out.on('close', () => {
    if (!current.body.readableEnded) current.body.destroy();
  });
  attach(first);
  return out;
}
