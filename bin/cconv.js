#!/usr/bin/env node
// Entry point of the `cconv` command: registers the tsx loader so the TypeScript sources run as they
// are (no build step), then runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { runCli, processIo } = await import('../src/cli/main.ts');
const { hideBin } = await import('yargs/helpers');
process.exitCode = await runCli(hideBin(process.argv), processIo());
