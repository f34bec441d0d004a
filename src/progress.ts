/**
 * Progress reporting. Library code never prints: long steps call a `Reporter` with events, and the
 * CLI renders them (listr2 on a TTY, plain lines in CI or with no TTY, nothing with --json/--quiet).
 *
 * Contract: every `start` for a task id is followed by exactly one `done` or `fail` for that id;
 * `advance` events come between them. Ids are unique within one command run.
 */

/** One progress event. `bytes`/`total` are in bytes unless `unit` says 'files'. */
export type ProgressEvent =
  | { type: 'start'; id: string; title: string; total?: number; unit?: 'bytes' | 'files' }
  | { type: 'advance'; id: string; amount: number }
  | { type: 'done'; id: string; summary?: string }
  | { type: 'fail'; id: string; error: Error }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string };

/** Receives progress events; must not throw. */
export type Reporter = (event: ProgressEvent) => void;

/** A reporter that drops everything (the default for library calls). */
export const silentReporter: Reporter = () => {};

/**
 * Runs `fn` as task `id`, emitting start and done/fail around it. The task's own advance events
 * go through the `advance` function handed to `fn`.
 */
export async function runTask<T>(
  report: Reporter,
  id: string,
  title: string,
  fn: (advance: (amount: number) => void) => Promise<T>,
  total?: number,
): Promise<T> {
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
