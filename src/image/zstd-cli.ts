/**
 * zstd decoding through the `zstd` command-line tool (`zstd -dc`, a child process): several times
 * faster than pure-JS fzstd and it runs on another core. Backpressure is the pipes': a write
 * completes when the child's stdin took it, and stdout pauses while the consumer is behind.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

type Callback = (err?: Error | null) => void;

const probed = new Map<string, boolean>();

/**
 * True when `command --version` runs and exits 0. Probed once per command and process (a few ms,
 * synchronous), then cached.
 */
export function zstdCliAvailable(command = 'zstd'): boolean {
  let ok = probed.get(command);
  if (ok === undefined) {
    const r = spawnSync(command, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    ok = r.error === undefined && r.status === 0;
    probed.set(command, ok);
  }
  return ok;
}

/**
 * Decompresses a zstd stream with `command -dc`. Corrupt or truncated input makes the child exit
 * non-zero: the stream then errors with the child's first stderr line. Destroying the stream
 * (consumer gone, upstream error) kills the child with SIGKILL; `exited` resolves once it is gone.
 */
export class ZstdCliDecompressor extends Duplex {
  /** Process id of the child (undefined if it could not be started). */
  readonly pid: number | undefined;
  /** Resolves when the child has exited, however it ended. */
  readonly exited: Promise<void>;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  private finalCallback: Callback | undefined;
  private status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnError: Error | undefined;

  constructor(command = 'zstd') {
    super();
    // -q: no progress on stderr; --no-check would skip the content checksum: keep it.
    this.child = spawn(command, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    const { stdin, stdout, stderr } = this.child;
    stdin.on('error', () => {}); // EPIPE when the child exits early: its exit status tells why
    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      if (this.stderr.length < 4096) this.stderr += s;
    });
    stdout.on('data', (b: Buffer) => {
      if (!this.push(b)) stdout.pause();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        // spawn failure (ENOENT, EACCES): no 'close' follows unless stdio was opened.
        this.spawnError = err;
        this.destroy(new Error(`cannot run ${command}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
        resolve();
      });
      this.child.on('close', (code, signal) => {
        this.status = { code, signal };
        resolve();
        this.onClose();
      });
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: Callback): void {
    if (this.status !== undefined || this.spawnError !== undefined) {
      callback(); // the child is gone; its exit status (or spawn error) errors this stream
      return;
    }
    this.child.stdin.write(chunk, () => callback());
  }

  override _final(callback: Callback): void {
    this.finalCallback = callback;
    this.child.stdin.end();
    if (this.status !== undefined) this.onClose();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(err: Error | null, callback: Callback): void {
    if (this.status === undefined && this.spawnError === undefined) this.child.kill('SIGKILL');
    this.child.stdout.destroy();
    this.child.stdin.destroy();
    callback(err);
  }

  /** stdout is drained once 'close' fired; ends the stream or errors with the child's reason. */
  private onClose(): void {
    const s = this.status!;
    if (this.destroyed) return;
    if (s.code !== 0) {
      const line = this.stderr.split('\n').find((l) => l.trim() !== '')?.trim();
      const why = s.code === null ? `killed by ${s.signal}` : `exit status ${s.code}`;
      this.destroy(new Error(`zstd failed (${why})${line ? `: ${line}` : ''}`));
      return;
    }
    // zstd exits 0 only after its stdin ended, i.e. after _final; if not, _final finishes instead.
    if (this.finalCallback === undefined) return;
    this.push(null);
    const cb = this.finalCallback;
    this.finalCallback = undefined;
    cb();
  }
}
