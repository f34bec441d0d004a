/**
 * How a cconv command is declared and executed: options parsing stays in yargs builders, the work
 * in library functions, and this file does the rest once for all commands: progress rendering,
 * the result on stdout (JSON with --json, text otherwise), errors to stderr, exit status.
 */
import type { Argv } from 'yargs';
import type { Reporter } from '../progress.ts';
import { asCconvError, errorJson, errorLines, exitStatusFor } from './exit.ts';
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
}

/** Chooses how progress is shown: silent for --json/--quiet, plain in CI or without a TTY. */
export function renderMode(global: GlobalOptions, io: CliIo): RenderMode {
  if (global.json || global.quiet) return 'silent';
  const ci = io.env.CI !== undefined && io.env.CI !== '' && io.env.CI !== 'false' && io.env.CI !== '0';
  return ci || !io.isTTY ? 'plain' : 'tty';
}

/** Runs a command and returns the process exit status (never throws, never exits). */
export async function execute<A, R>(spec: CommandSpec<A, R>, args: A & GlobalOptions, io: CliIo): Promise<number> {
  const renderer = createRenderer(renderMode(args, io), spec.stages?.(args) ?? [], io.stderr, args.verbose);
  try {
    const result = await renderer.run((report) => spec.run(args, report, io));
    if (args.json) io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const text = spec.human(result, args);
      if (text !== '') io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
    return 0;
  } catch (err) {
    const error = asCconvError(err);
    if (args.json) io.stdout(`${JSON.stringify(errorJson(error), null, 2)}\n`);
    io.stderr(`${errorLines(error, args.verbose).join('\n')}\n`);
    return exitStatusFor(error);
  }
}
