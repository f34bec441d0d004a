/**
 * Renders progress events for humans: a listr2 task list on a TTY, plain timestamped lines in CI
 * (`CI=true`) or when stderr is not a TTY, nothing but warnings with --json or --quiet. All of it
 * goes to stderr, so stdout carries only the result.
 */
import { Listr } from 'listr2';
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

/** Creates the renderer for `mode`; `write` receives stderr text. */
export function createRenderer(mode: RenderMode, stages: Stage[], write: (text: string) => void, verbose = false): Renderer {
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
  const logLine = (e: Extract<ProgressEvent, { type: 'log' }>) => {
    if (e.level === 'warn') write(`cconv: warning: ${e.message}\n`);
    else if (mode !== 'silent' && (e.level === 'info' || verbose)) write(`cconv: ${e.message}\n`);
  };
  if (mode === 'silent') {
    const report: Reporter = (e) => (e.type === 'log' ? logLine(e) : undefined);
    return { report, run: (work) => work(report) };
  }
  if (mode === 'plain') return plainRenderer(track, logLine, write);
  return ttyRenderer(stages, track, logLine);
}

function plainRenderer(track: (e: ProgressEvent) => Progress | undefined, logLine: (e: Extract<ProgressEvent, { type: 'log' }>) => void, write: (t: string) => void): Renderer {
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
  output?: (text: string) => void;
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

function ttyRenderer(stages: Stage[], track: (e: ProgressEvent) => Progress | undefined, logLine: (e: Extract<ProgressEvent, { type: 'log' }>) => void): Renderer {
  const pending = new Map(stages.map((s) => [s.id, deferred()]));
  let current: Deferred | undefined;
  const report: Reporter = (e) => {
    if (e.type === 'log') return logLine(e);
    const p = track(e);
    const own = pending.get(e.id);
    const target = own ?? current;
    if (e.type === 'done' && own) own.resolve(e.summary);
    else if (e.type === 'fail' && own) own.reject(e.error);
    else if (p && target?.output) target.output(e.type === 'start' ? p.title : `${p.title}: ${describe(p)}`);
  };
  const list = new Listr(
    stages.map((stage) => ({
      title: stage.title,
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        const d = pending.get(stage.id)!;
        current = d;
        d.output = (text) => {
          task.output = text;
        };
        const summary = await d.promise;
        if (summary) task.title = `${stage.title} (${summary})`;
      },
    })),
    { concurrent: false, exitOnError: true, rendererOptions: { collapseErrors: false } },
  );
  return {
    report,
    async run(work) {
      const rendering = list.run().catch(() => {});
      try {
        const result = await work(report);
        for (const d of pending.values()) d.resolve();
        await rendering;
        return result;
      } catch (err) {
        for (const d of pending.values()) d.reject(err as Error);
        await rendering;
        throw err;
      }
    },
  };
}
