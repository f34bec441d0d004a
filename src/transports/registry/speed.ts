/**
 * A floor under the speed of one HTTP request attempt, because the socket idle timeout alone lets
 * a peer that sends one byte every few seconds hold a transfer open for hours. Three phases:
 * - sending the request body: the bytes the socket has flushed must keep up with `minSpeed`;
 * - waiting for the response headers once the request is sent: at most `headersTimeoutMs`
 *   (a silent peer hits the idle timeout first; this bounds one that trickles its headers);
 * - receiving the response body: the bytes read from the socket must keep up with `minSpeed`,
 *   counting only time the consumer waits for data (while data waits in the response's buffer the
 *   consumer is behind and the socket paused, which is not the peer's fault).
 * Speed is judged over windows of `windowMs` of counted time. A failure destroys the request or
 * the response with E_NETWORK naming the host and the phase; it is not retried (a peer that slow
 * is likely to stay slow, and the user should hear so at once). `writeSlices` sends a Buffer body
 * in pieces so that flushed bytes can be counted.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CconvError } from '../../errors.ts';

/** The limits of `watchSpeed`. */
export interface SpeedLimits {
  /** Bytes per second below which a transfer fails; 0 turns the speed check off. */
  minSpeed: number;
  /** Length in ms of the window the speed is averaged over. */
  windowMs: number;
  /** Longest wait in ms from the request being sent to the response headers being complete. */
  headersTimeoutMs: number;
}

/** Handle of one watched attempt; `flushed(n)` counts request-body bytes the socket has sent. */
export interface SpeedWatch {
  flushed(n: number): void;
}

type Phase = 'connecting' | 'sending' | 'waiting' | 'receiving' | 'done';

const WHAT: Record<'sending' | 'waiting' | 'receiving', string> = {
  sending: 'sending the request body',
  waiting: 'receiving the response headers',
  receiving: 'receiving the response body',
};

/** The E_NETWORK for a transfer of `label` ("GET host") found too slow in `phase`. */
function tooSlow(label: string, phase: 'sending' | 'waiting' | 'receiving', detail: string): CconvError {
  return new CconvError('E_NETWORK', `${label}: ${WHAT[phase]} too slow: ${detail}`, {
    hint: 'the registry or a proxy on the way is stalling; check the network, or lower --min-speed (0 turns the check off)',
  });
}

/**
 * Watches `req` (one attempt, labelled `label` in errors) from now until its response ends or it
 * fails. The caller reports flushed body bytes through the returned handle. Timers are unref'd
 * and cleared when the request or response closes.
 */
export function watchSpeed(req: ClientRequest, label: string, limits: SpeedLimits): SpeedWatch {
  let phase: Phase = 'connecting';
  let sent = 0;
  let res: IncomingMessage | undefined;
  let socket: Socket | undefined;
  let readBase = 0;
  // Counted time and bytes of the current window, and the progress value at the last tick.
  let waited = 0;
  let moved = 0;
  let last = 0;
  let headersTimer: NodeJS.Timeout | undefined;
  const tickMs = Math.max(10, Math.floor(limits.windowMs / 10));

  const progress = (): number => (phase === 'receiving' ? (socket?.bytesRead ?? readBase) - readBase : sent);
  const enter = (next: Phase): void => {
    phase = next;
    waited = 0;
    moved = 0;
    last = progress();
  };
  const stop = (): void => {
    phase = 'done';
    clearInterval(ticker);
    clearTimeout(headersTimer);
  };
  const tick = (): void => {
    const now = progress();
    const delta = now - last;
    last = now;
    // Not counted: before the first body byte left (connection and TLS set-up are the idle
    // timeout's business), the wait for headers (its own deadline), and a consumer that is behind.
    if (phase === 'sending' && sent === 0) return;
    if (phase === 'receiving' && res !== undefined && res.readableLength > 0) return;
    if (phase !== 'sending' && phase !== 'receiving') return;
    waited += tickMs;
    moved += delta;
    if (waited < limits.windowMs) return;
    if (moved < (limits.minSpeed * waited) / 1000) {
      const err = tooSlow(label, phase, `${moved} bytes in ${(waited / 1000).toFixed(1)} s, under the minimum of ${limits.minSpeed} bytes/s`);
      stop();
      if (res !== undefined) res.destroy(err);
      else req.destroy(err);
      return;
    }
    waited = 0;
    moved = 0;
  };
  const ticker = setInterval(tick, tickMs);
  ticker.unref();
  if (limits.minSpeed <= 0) clearInterval(ticker);

  req.on('socket', (s: Socket) => {
    socket = s;
    if (phase === 'connecting') enter('sending');
  });
  req.on('finish', () => {
    if (phase === 'done' || res !== undefined) return;
    enter('waiting');
    headersTimer = setTimeout(() => {
      stop();
      req.destroy(tooSlow(label, 'waiting', `not complete ${(limits.headersTimeoutMs / 1000).toFixed(1)} s after the request was sent`));
    }, limits.headersTimeoutMs);
    headersTimer.unref();
  });
  req.on('response', (r: IncomingMessage) => {
    clearTimeout(headersTimer);
    res = r;
    socket = r.socket ?? socket;
    readBase = socket?.bytesRead ?? 0;
    enter('receiving');
    r.on('end', stop);
    r.on('close', stop);
  });
  req.on('close', () => {
    if (res === undefined) stop();
  });
  return {
    flushed(n: number): void {
      sent += n;
    },
  };
}

/** Request bodies are written in slices this large, so the speed check sees the flush progress. */
const BODY_SLICE = 64 * 1024;

/**
 * Writes `body` (or nothing) to `req` in BODY_SLICE pieces, waiting for 'drain' when the socket
 * is full, then ends it. `flushed(n)` is called as each piece reaches the socket.
 */
export function writeSlices(req: ClientRequest, body: Buffer | undefined, flushed: (n: number) => void): void {
  if (body === undefined || body.length === 0) {
    req.end(body);
    return;
  }
  let offset = 0;
  const next = (): void => {
    while (offset < body.length) {
      const slice = body.subarray(offset, offset + BODY_SLICE);
      offset += slice.length;
      const more = req.write(slice, (err) => {
        if (!err) flushed(slice.length);
      });
      if (!more) {
        req.once('drain', next);
        return;
      }
    }
    req.end();
  };
  next();
}
