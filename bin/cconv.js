#!/usr/bin/env node
// Entry point of the `cconv` command. It runs the JavaScript that `npm run build` (tsc -p
// tsconfig.build.json) emits into dist/; npm builds it on install (`prepare`) and ships it in the
// package. A checkout that was never built has no dist/: then the TypeScript sources run through
// tsx (a devDependency), with a notice, so that start-up costs seconds instead of milliseconds.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  process.stderr.write('cconv: dist/ is missing (run npm run build): running the TypeScript sources through tsx, slowly\n');
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli/main.ts');
}
process.exitCode = await cli.runCli(process.argv.slice(2), cli.processIo());
