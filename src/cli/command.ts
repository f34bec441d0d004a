/**
 * How a cconv command is declared and executed: options parsing stays in yargs builders, the work
 * in library functions, and this file does the rest once for all commands: progress rendering,
 * the result on stdout (JSON with --json, text otherwise), errors to stderr, exit status, and
 * signals (SIGINT, SIGTERM, SIGHUP) for the commands that stop cleanly on them.
 */
import type { Argv } from 'yargs';
import { CconvError } from '../errors.ts';
import { asAbortError, withSignal, type Reporter } from '../progress.ts';
import { asCconvError, errorJson, errorLines, exitStatusFor, signalStatus, type StopSignal } from './exit.ts';
import { createRenderer, type RenderMode, type Stage } from './render.ts';

/** Options every command has. */
export interface GlobalOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
}

/** The process facilities a command may use; tests pass fakes. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  /** Reads all of stdin (for --password-stdin and passphrases). */
  readStdin: () => Promise<Buffer>;
  /** The process's stop signals; absent (tests' fakes), they keep their default actions. */
  signals?: SignalIo;
}

/** What `execute` needs of the process's signals. */
export interface SignalIo {
  /**
   * Calls `onSignal` for every SIGINT, SIGTERM and SIGHUP until the returned function is called;
   * meanwhile they do not end the process. The function restores the default actions.
   */
  trap(onSignal: (signal: StopSignal) => void): () => void;
  /** Ends the process now with `status`, whatever is still running. */
  exit(status: number): never;
}

/** A command: its yargs definition, stages for the progress list, the work and its text rendering. */
export interface CommandSpec<A, R> {
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv;
  stages?: (args: A & GlobalOptions) => Stage[];
  run: (args: A & GlobalOptions, report: Reporter, io: CliIo) => Promise<R>;
  /** Human-readable result for stdout; '' prints nothing. */
  human: (result: R, args: A & GlobalOptions) => string;
  /**
   * True when `run` stops once `report.signal` is aborted and removes what it wrote. Then the first
   * SIGINT, SIGTERM or SIGHUP aborts it and the process exits 128+N once it has cleaned up; the
   * same signal again exits at once. Other commands keep the default actions: a signal ends them
   * at once, whatever they were writing.
   */
  cancellable?: boolean;
}

/** Chooses how progress is shown: silent for --json/--quiet, plain in CI or without a TTY. */
export function renderMode(global: GlobalOptions, io: CliIo): RenderMode {
  if (global.json || global.quiet) return 'silent';
  const ci = io.env.CI !== undefined && io.env.CI !== '' && io.env.CI !== 'false' && io.env.CI !== '0';
  return ci || !io.isTTY ? 'plain' : 'tty';
}

/**
 * Runs a command and returns the process exit status (never throws; exits only when a stop signal
 * comes twice). For a cancellable command, stop signals are caught while it runs: the first aborts
 * the signal its reporter carries, and a failure after it is reported as E_ABORTED with status
 * 128+N (130 SIGINT, 143 SIGTERM, 129 SIGHUP), whatever error the abort surfaced as.
 */
export async function execute<A, R>(spec: CommandSpec<A, R>, args: A & GlobalOptions, io: CliIo): Promise<number> {
  const renderer = createRenderer(renderMode(args, io), spec.stages?.(args) ?? [], io.stderr, args.verbose);
  const stop = new AbortController();
  let caught: StopSignal | undefined;
  const onSignal = (signal: StopSignal): void => {
    if (caught === undefined) {
      caught = signal;
      renderer.report({ type: 'log', level: 'warn', message: `${signal}: stopping, and removing what this run wrote (${signal} again quits at once and leaves it)` });
      stop.abort(new CconvError('E_ABORTED', `interrupted by ${signal}`, { hint: 'what this run had written was removed' }));
    } else if (signal === caught) {
      io.stderr(`cconv: ${signal} again: quitting now; what this run wrote so far may stay behind\n`);
      io.signals!.exit(signalStatus(signal));
    } // another kind while stopping: the run is stopping already
  };
  const untrap = spec.cancellable === true ? io.signals?.trap(onSignal) : undefined;
  try {
    const result = await renderer.run((report) => spec.run(args, untrap ? withSignal(report, stop.signal) : report, io));
    if (args.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const text = spec.human(result, args);
      if (text !== '') io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
    if (caught !== undefined) io.stderr(`cconv: the ${caught} came after the work was done: it was kept\n`);
    return 0;
  } catch (err) {
    const error = caught !== undefined ? asAbortError(stop.signal, err) : asCconvError(err);
    const status = caught !== undefined ? signalStatus(caught) : exitStatusFor(error);
    if (args.json) io.stdout(`${JSON.stringify(errorJson(error, status), null, 2)}\n`);
    io.stderr(`${errorLines(error, args.verbose).join('\n')}\n`);
    return status;
  } finally {
    untrap?.();
  }
}
