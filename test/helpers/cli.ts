/** Runs the cconv CLI in-process with captured output, as a user would see it. */
import { runCli } from '../../src/cli/main.ts';

/** Output of one CLI run. */
export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `cconv ...args` with no TTY and CI set (plain progress lines). */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    isTTY: false,
    env: { CI: 'true', ...env },
    readStdin: async () => Buffer.from(stdin),
  });
  return { status, stdout, stderr };
}
