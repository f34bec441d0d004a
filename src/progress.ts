/**
 * Progress reporting. Library code never prints: long steps call a `Reporter` with events, and the
 * CLI renders them (listr2 on a TTY, plain lines in CI or with no TTY, nothing with --json/--quiet).
 *
 * Contract: every `start` for a task id is followed by exactly one `done` or `fail` for that id;
 * `advance` events come between them. Ids are unique within one command run.
 *
 * A reporter may also carry the run's cancellation (`signal`): the CLI aborts it on SIGINT, SIGTERM
 * or SIGHUP (src/cli/command.ts). It rides on the reporter because every long step is already
 * handed one; code that stops on it throws the signal's reason, an E_ABORTED CconvError.
 */
import { CconvError } from './errors.ts';

/** One progress event. `bytes`/`total` are in bytes unless `unit` says 'files'. */
export type ProgressEvent =
  | { type: 'start'; id: string; title: string; total?: number; unit?: 'bytes' | 'files' }
  | { type: 'advance'; id: string; amount: number }
  | { type: 'done'; id: string; summary?: string }
  | { type: 'fail'; id: string; error: Error }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string };

/**
 * Receives progress events; must not throw. `signal`, when set, is the cancellation of the run the
 * events belong to: once it is aborted, work given this reporter stops at its next check (at the
 * latest when its next task starts) and removes what it wrote.
 */
export type Reporter = ((event: ProgressEvent) => void) & { readonly signal?: AbortSignal };

/** A reporter that drops everything (the default for library calls). */
export const silentReporter: Reporter = () => {};

/** `report` carrying `signal` as its run's cancellation. */
export function withSignal(report: Reporter, signal: AbortSignal): Reporter {
  return Object.assign((event: ProgressEvent) => report(event), { signal });
}

/** The error to throw for an aborted `signal`: its reason when that is a CconvError, else E_ABORTED with the reason as cause. */
export function abortError(signal: AbortSignal): CconvError {
  const reason: unknown = signal.reason;
  return reason instanceof CconvError ? reason : new CconvError('E_ABORTED', 'cancelled', { cause: reason });
}

/**
 * What a step that failed with `err` after `signal` was aborted throws: the abort error itself, or
 * an E_ABORTED with the same message whose cause is `err` (the form the abort surfaced in).
 */
export function asAbortError(signal: AbortSignal, err: unknown): CconvError {
  const abort = abortError(signal);
  if (err === abort) return abort;
  return new CconvError('E_ABORTED', abort.message, { ...(abort.hint !== undefined ? { hint: abort.hint } : {}), cause: err });
}

/** Throws `abortError(signal)` when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortError(signal);
}

/**
 * Runs `fn` as task `id`, emitting start and done/fail around it. The task's own advance events
 * go through the `advance` function handed to `fn`. When `report.signal` is already aborted, the
 * task does not start: runTask throws `abortError` (and emits nothing). It does not interrupt a
 * running `fn`: stopping mid-task is `fn`'s own business (whatever it holds must be released first).
 */
export async function runTask<T>(
  report: Reporter,
  id: string,
  title: string,
  fn: (advance: (amount: number) => void) => Promise<T>,
  total?: number,
): Promise<T> {
  throwIfAborted(report.signal);
  report(total === undefined ? { type: 'start', id, title } : { type: 'start', id, title, total });
  try {
    const result = await fn((amount) => report({ type: 'advance', id, amount }));
    report({ type: 'done', id });
    return result;
  } catch (err) {
    report({ type: 'fail', id, error: err as Error });
    throw err;
  }
}
