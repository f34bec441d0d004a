/**
 * `cconv` CLI: global options and command registration. `bin/cconv.js` calls `runCli` and sets the
 * process exit status from its result; nothing else in cconv exits, but for the same stop signal
 * sent twice to a cancellable command (command.ts), which `processIo().signals` ends at once.
 *
 * Start-up stays cheap (STYLE.md habit 10): parsing loads yargs and the usage modules
 * (src/cli/usage/: names, descriptions, options) only. A command's own module, and with it the
 * library and its dependencies (sigstore, dockerode, the registry client), is imported when that
 * command runs, so `cconv --version` and `cconv --help` load none of them.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { CliIo, CommandSpec, GlobalOptions, SignalIo } from './command.ts';

/** The part of a command that runs (its module in src/cli/commands/), imported when it runs. */
export type CommandHandler<A, R> = Pick<CommandSpec<A, R>, 'stages' | 'run' | 'human' | 'cancellable'>;

/** What `--help` needs of a command, and `load`, which imports the rest of it. */
export interface CommandUsage {
  command: string;
  describe: string;
  /**
   * Declares the options. A builder that takes a shared option set from src/cli/options/enclave.ts
   * or signer.ts (modules that import the library) imports it, so it is async; yargs calls a
   * builder only for the command being run or asked for its own --help.
   */
  builder: (yargs: Argv) => Argv | PromiseLike<Argv>;
  load: () => Promise<CommandHandler<any, any>>;
}

/** A command with subcommands (`cconv sigstruct view`); each subcommand runs through `execute`. */
export interface CommandGroup {
  command: string;
  describe: string;
  subcommands: CommandUsage[];
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The process's real I/O. */
export function processIo(): CliIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: process.stderr.isTTY === true,
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    },
    signals: processSignals,
  };
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The process's SIGINT, SIGTERM and SIGHUP. */
const processSignals: SignalIo = {
  trap(onSignal) {
    const handlers = STOP_SIGNALS.map((signal) => {
      const handler = (): void => {
        // After SIGHUP the terminal may be gone: a failed write to it must not end the cleanup.
        for (const stream of [process.stdout, process.stderr]) if (stream.listenerCount('error') === 0) stream.on('error', () => {});
        onSignal(signal);
      };
      process.on(signal, handler);
      return { signal, handler };
    });
    return () => {
      for (const { signal, handler } of handlers) process.off(signal, handler);
    };
  },
  exit: (status) => process.exit(status),
};

/** Parses `argv` and runs the command; resolves to the exit status. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // `cconv --version` alone needs no parser. It is answered before yargs is imported: on Node 20,
  // importing yargs costs more CPU than starting Node itself (bench/startup.ts).
  if (argv.length === 1 && argv[0] === '--version') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const [{ default: yargs }, { COMMANDS }, { ExitStatus }] = await Promise.all([import('yargs'), import('./usage/index.ts'), import('./exit.ts')]);
  let status = 0;
  let parser: Argv = yargs()
    .scriptName('cconv')
    .usage('$0 <command> [options]\n\nTurn a Docker image into an Intel SGX confidential container (Gramine).')
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON on stdout (logs stay on stderr)' })
    // No `default: false` on these two: yargs 18 applies .conflicts to default values too, which
    // made every command fail with "quiet and verbose are mutually exclusive". Unset means false.
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print no progress, only warnings and errors' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'more detail, and error causes' })
    .conflicts('quiet', 'verbose')
    .version(VERSION)
    .help()
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .epilogue('Exit status: 0 ok, 1 internal error, 2 usage, 3 not found, 4 invalid image, 5 environment (daemon, registry, I/O), 6 keys and signatures, 7 unsupported, 8 release policy denies (policy check), 128+N interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP).')
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  const register = (y: Argv, usage: CommandUsage): Argv =>
    y.command(usage.command, usage.describe, usage.builder, async (args) => {
      const [{ execute }, handler] = await Promise.all([import('./command.ts'), usage.load()]);
      // execute reads stages, run and human; yargs has already applied the builder.
      const spec: CommandSpec<any, any> = { command: usage.command, describe: usage.describe, builder: (o) => o, ...handler };
      status = await execute(spec, args as unknown as GlobalOptions, io);
    });
  for (const entry of COMMANDS) {
    parser = 'subcommands' in entry
      ? parser.command(entry.command, entry.describe, (y) =>
          entry.subcommands.reduce(register, y).demandCommand(1, `name a subcommand (see cconv ${entry.command} --help)`))
      : register(parser, entry);
  }
  let builtIn = ''; // --help / --version text, which yargs hands to the parse callback instead of printing
  try {
    await parser.parseAsync(argv, {}, (_err, _args, output) => {
      builtIn = output;
    });
    if (builtIn !== '') io.stdout(`${builtIn}\n`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`cconv: error E_USAGE: ${err.message}\n  hint: run cconv --help\n`);
      return ExitStatus.usage;
    }
    throw err;
  }
  return status;
}

class UsageError extends Error {}
