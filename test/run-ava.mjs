#!/usr/bin/env node
// Runs ava with the TAP reporter, passes its output through, and ends with the one line CI reads:
// `N passed, N failed[, N skipped]`. ava's own summary is not recognised by CI and its TAP plan
// counts todo tests as failures, so we count the `ok` / `not ok` lines ourselves.
// Exit status: non-zero if any test failed, or if ava failed without any test being counted.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = ['--tap', ...process.argv.slice(2)];
const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: process.env,
});

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const m = /^(not )?ok \d+ /.exec(line);
  if (!m) return;
  if (/# (SKIP|TODO)\b/i.test(line)) skipped++;
  else if (m[1]) failed++;
  else passed++;
});

child.on('close', (code, signal) => {
  if ((code !== 0 || signal) && failed === 0) failed = 1; // ava failed outside any test (crash, timeout, no tests)
  if (passed + failed === 0) failed = 1; // a run that executed no test is a failure
  process.stdout.write(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  process.exit(failed > 0 ? 1 : 0);
});
