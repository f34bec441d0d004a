/**
 * Renders progress events for humans: a listr2 task list on a TTY, plain timestamped lines in CI
 * (`CI=true`), when stderr is not a TTY or when the terminal reports no width, nothing but warnings
 * with --json or --quiet. All of it goes to stderr, so stdout carries only the result.
 */
import type { ProgressEvent, Reporter } from '../progress.ts';

/** How progress is shown. */
export type RenderMode = 'tty' | 'plain' | 'silent';

/** A stage the command announces up front, so the TTY list shows what is coming. */
export interface Stage {
  id: string;
  title: string;
}

/** A reporter plus the function that runs the command's work while rendering it. */
export interface Renderer {
  report: Reporter;
  run<T>(work: (report: Reporter) => Promise<T>): Promise<T>;
}

/** A terminal's size in character cells; 0 when unknown. */
export interface TerminalSize {
  columns: number;
  rows: number;
}

/** Formats a byte count for humans (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

interface Progress {
  title: string;
  total?: number;
  unit: 'bytes' | 'files';
  done: number;
  started: number;
}

function describe(p: Progress): string {
  const fmt = (n: number) => (p.unit === 'files' ? `${n} files` : formatBytes(n));
  return p.total !== undefined ? `${fmt(p.done)} / ${fmt(p.total)}` : fmt(p.done);
}

type LogEvent = Extract<ProgressEvent, { type: 'log' }>;

/** Creates the renderer for `mode`; `write` receives stderr text; `terminal` is stderr's size. */
export function createRenderer(mode: RenderMode, stages: Stage[], write: (text: string) => void, verbose = false, terminal: TerminalSize = stderrSize()): Renderer {
  const progress = new Map<string, Progress>();
  const track = (e: ProgressEvent): Progress | undefined => {
    if (e.type === 'start') {
      const p: Progress = { title: e.title, unit: e.unit ?? 'bytes', done: 0, started: Date.now() };
      if (e.total !== undefined) p.total = e.total;
      progress.set(e.id, p);
      return p;
    }
    const p = 'id' in e ? progress.get(e.id) : undefined;
    if (p && e.type === 'advance') p.done += e.amount;
    return p;
  };
  const logLine = (e: LogEvent) => {
    if (e.level === 'warn') write(`cconv: warning: ${e.message}\n`);
    else if (mode !== 'silent' && (e.level === 'info' || verbose)) write(`cconv: ${e.message}\n`);
  };
  if (mode === 'silent') {
    const report: Reporter = (e) => (e.type === 'log' ? logLine(e) : undefined);
    return { report, run: (work) => work(report) };
  }
  // log-update redraws the list by counting wrapped lines, so it needs the width; a pty nobody
  // sized (`script`, some `docker exec -t`) reports 0 columns.
  if (mode === 'plain' || terminal.columns <= 0) return plainRenderer(track, logLine, write);
  return ttyRenderer(stages, track, logLine, write, terminal);
}

function stderrSize(): TerminalSize {
  return { columns: process.stderr.columns ?? 0, rows: process.stderr.rows ?? 0 };
}

function plainRenderer(track: (e: ProgressEvent) => Progress | undefined, logLine: (e: LogEvent) => void, write: (t: string) => void): Renderer {
  const lastPrinted = new Map<string, number>();
  const report: Reporter = (e) => {
    if (e.type === 'log') return logLine(e);
    const p = track(e);
    if (!p) return;
    const secs = ((Date.now() - p.started) / 1000).toFixed(1);
    if (e.type === 'start') write(`[cconv] ${p.title}...\n`);
    else if (e.type === 'done') write(`[cconv] ${p.title}: done in ${secs}s${e.summary ? ` (${e.summary})` : p.done > 0 ? ` (${describe(p)})` : ''}\n`);
    else if (e.type === 'fail') write(`[cconv] ${p.title}: failed after ${secs}s\n`);
    else if (Date.now() - (lastPrinted.get(e.id) ?? p.started) >= 5000) {
      lastPrinted.set(e.id, Date.now());
      write(`[cconv] ${p.title}: ${describe(p)}\n`);
    }
  };
  return { report, run: (work) => work(report) };
}

interface Deferred {
  promise: Promise<string | undefined>;
  resolve: (summary?: string) => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: (s?: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string | undefined>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a stage that fails before listr awaits it must not be an unhandled rejection
  return { promise, resolve, reject };
}

/** A declared stage: what its events said, and the promise its listr task waits for. */
interface StageRun {
  stage: Stage;
  /** By its own events: no start yet, started, done or failed. */
  state: 'waiting' | 'running' | 'ended';
  summary?: string;
  /** The latest progress line, shown under the title once its listr task runs. */
  line?: string;
  /** Settled once, by `settle`: the listr task returns (or fails) then. */
  end: Deferred;
  settled: boolean;
}

/** The part of listr2's task wrapper the renderer uses. */
interface TaskView {
  output: string;
  title: string;
}

/**
 * The listr2 list: one task per stage, run in order, each waiting for its stage to settle. listr2
 * drops a task's output buffer when the task finishes and then throws on `task.output =` (issue 15:
 * build reads two images as task `flatten`, and the second one's events went to the finished
 * task). So progress goes only to the task whose function is running (`live`), `settle` unhooks it
 * before letting the function return, and nothing is written once the list has ended. Any event
 * order is accepted: events of unknown or settled ids, and of tasks that are no stage, show under
 * the live task with their own title; a stage that starts settles the earlier ones that never did.
 */
function ttyRenderer(stages: Stage[], track: (e: ProgressEvent) => Progress | undefined, logLine: (e: LogEvent) => void, write: (t: string) => void, terminal: TerminalSize): Renderer {
  const runs: StageRun[] = stages.map((stage) => ({ stage, state: 'waiting', end: deferred(), settled: false }));
  const byId = new Map(runs.map((r) => [r.stage.id, r]));
  let live: { run: StageRun; task: TaskView } | undefined;
  let ended = false;
  // A stage that reported done stays open until a task event with another id comes, in case its
  // id starts again (build reads the runtime image, then the source image, both as `flatten`).
  let closing: StageRun | undefined;
  // Log lines wait while the list is drawn (a line written in between would break its redraw).
  let held: LogEvent[] | undefined;

  const settle = (r: StageRun, error?: Error) => {
    if (r.settled) return;
    r.settled = true;
    if (live?.run === r) live = undefined;
    if (closing === r) closing = undefined;
    if (error) r.end.reject(error);
    else r.end.resolve(r.summary);
  };
  const report: Reporter = (e) => {
    if (e.type === 'log') return void (held ? held.push(e) : logLine(e));
    const p = track(e);
    const r = byId.get(e.id);
    if (closing && !(closing === r && e.type === 'start')) settle(closing);
    if (r && !r.settled) {
      if (e.type === 'start') {
        for (const before of runs.slice(0, runs.indexOf(r))) if (before.state === 'waiting') settle(before);
        r.state = 'running';
        closing = undefined;
      } else if (e.type === 'done') {
        r.state = 'ended';
        if (e.summary) r.summary = e.summary;
        closing = r;
      } else if (e.type === 'fail') {
        r.state = 'ended';
        settle(r, e.error);
      }
    }
    if (!p) return; // an id that never started
    const text =
      e.type === 'start' ? p.title
      : e.type === 'fail' ? `${p.title}: failed`
      : e.type === 'done' ? `${p.title}: ${e.summary ?? (p.done > 0 ? describe(p) : 'done')}`
      : `${p.title}: ${describe(p)}`;
    if (r) r.line = text;
    if (live) live.task.output = text;
  };
  const taskFor = (r: StageRun) => async (_ctx: unknown, task: TaskView) => {
    if (!r.settled && !ended) {
      live = { run: r, task };
      if (r.line) task.output = r.line;
    }
    const summary = await r.end.promise;
    if (summary) task.title = `${r.stage.title} (${summary})`;
  };
  return {
    report,
    async run(work) {
      held = [];
      const list = runs.map((r) => ({ title: r.stage.title, task: taskFor(r) }));
      const rendering = drawList(list, write, terminal)
        .catch(() => {}) // a failed stage fails the list; the error is the work's to report
        .finally(() => {
          ended = true;
          live = undefined;
        });
      try {
        const result = await work(report);
        for (const r of runs) settle(r);
        return result;
      } catch (err) {
        // The stage at work fails; one that reported done stays done.
        for (const r of runs) settle(r, r.state === 'ended' ? undefined : (err as Error));
        throw err;
      } finally {
        await rendering;
        const lines = held;
        held = undefined;
        for (const e of lines) logLine(e);
      }
    },
  };
}

/** Draws `tasks` with listr2 through `write` (stderr) until they have all returned or one failed. */
async function drawList(tasks: Array<{ title: string; task: (ctx: unknown, task: TaskView) => Promise<void> }>, write: (t: string) => void, terminal: TerminalSize): Promise<void> {
  const { DefaultRenderer, Listr, ListrLogger, ProcessOutput } = await import('listr2');
  // renderMode found stderr to be a terminal; listr2 itself would look at stdout.
  class StderrRenderer extends DefaultRenderer {
    static override nonTTY = true;
  }
  const screen = { write: (chunk: unknown) => (write(String(chunk)), true), isTTY: true, columns: terminal.columns, rows: terminal.rows || 24 };
  const nowhere = { write: () => true }; // listr2's second stream; the renderer writes nothing there
  const output = new ProcessOutput(screen as unknown as NodeJS.WriteStream, nowhere as unknown as NodeJS.WriteStream);
  const logger = new ListrLogger({ useIcons: true, toStderr: [], processOutput: output });
  // No SIGINT listener of listr2's own: it would exit at once (127), before a cancellable command cleans up.
  await new Listr(tasks, { concurrent: false, exitOnError: true, registerSignalListeners: false, renderer: StderrRenderer, rendererOptions: { collapseErrors: false, logger } }).run();
}
