/**
 * `cconv` CLI: global options and command registration. `bin/cconv.js` calls `runCli` and sets the
 * process exit status from its result; nothing else in cconv exits.
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { execute, type CliIo, type CommandSpec, type GlobalOptions } from './command.ts';
import { attestCommand } from './commands/attest.ts';
import { buildCommand } from './commands/build.ts';
import { copyCommand } from './commands/copy.ts';
import { gramineCommand } from './commands/gramine-sign.ts';
import { inspectCommand } from './commands/inspect.ts';
import { keygenCommand } from './commands/keygen.ts';
import { keysCommand } from './commands/keys.ts';
import { pfCommand } from './commands/pf.ts';
import { policyCommand } from './commands/policy.ts';
import { measureCommand } from './commands/measure.ts';
import { signCommand } from './commands/sign.ts';
import { verifyCommand } from './commands/verify.ts';
import { sigstructCommand } from './commands/sigstruct.ts';
import { ExitStatus } from './exit.ts';

/** A command with subcommands (`cconv sigstruct view`); each subcommand runs through `execute`. */
export interface CommandGroup {
  command: string;
  describe: string;
  subcommands: CommandSpec<any, any>[];
}

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Array<CommandSpec<any, any> | CommandGroup> = [buildCommand, verifyCommand, inspectCommand, copyCommand, measureCommand, signCommand, gramineCommand, sigstructCommand, keygenCommand, pfCommand, keysCommand, policyCommand, attestCommand];

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
  };
}

/** Parses `argv` and runs the command; resolves to the exit status. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
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
    .epilogue('Exit status: 0 ok, 1 internal error, 2 usage, 3 not found, 4 invalid image, 5 environment (daemon, registry, I/O), 6 keys and signatures, 7 unsupported, 8 release policy denies (policy check).')
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  const register = (y: Argv, spec: CommandSpec<any, any>): Argv =>
    y.command(spec.command, spec.describe, spec.builder, async (args) => {
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
