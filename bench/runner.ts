/**
 * Runs one measurement: a stage in a fresh Node child (stage.ts) or a shell pipeline (the external
 * limits). Wall time is measured by the child itself for stages and around the pipeline for shell
 * commands; a pipeline's CPU time is the growth of this process's reaped-children CPU
 * (/proc/self/stat cutime+cstime, 10 ms resolution). Failures and timeouts become `error` samples.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One run of one measurement. `error` is set when it failed (then the numbers are 0). */
export interface Sample {
  seconds: number;
  cpuSeconds: number;
  /** Peak RSS in KiB; null for shell pipelines (not measured per command). */
  maxRssKiB: number | null;
  bytes: number;
  extra?: Record<string, unknown>;
  error?: string;
}

const STAGE = fileURLToPath(new URL('./stage.ts', import.meta.url));

function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat(5) (cutime, cstime); f[0] is field 3.
  return (Number(f[13]) + Number(f[14])) / 100;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

function failed(message: string): Sample {
  // The first lines name the error (a Node stack trace ends with the version line, not the cause).
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return { seconds: 0, cpuSeconds: 0, maxRssKiB: null, bytes: 0, error: lines.slice(0, 6).join(' | ').slice(0, 600) };
}

/** Runs stage `name` once in a fresh child process. */
export async function runStage(name: string, args: Record<string, unknown>, timeoutMs: number): Promise<Sample> {
  const r = await run(process.execPath, ['--import=tsx', STAGE, name, JSON.stringify(args)], timeoutMs);
  if (r.timedOut) return failed(`timed out after ${timeoutMs / 1000} s`);
  if (r.code !== 0) return failed(r.stderr || `exit status ${r.code}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Sample;
}

/** Runs `script` with bash (pipefail) once; `bytes` is what the caller says it processes. */
export async function runShell(script: string, bytes: number, timeoutMs: number): Promise<Sample> {
  const cpu0 = childrenCpu();
  const t0 = performance.now();
  const r = await run('bash', ['-o', 'pipefail', '-c', script], timeoutMs);
  const seconds = (performance.now() - t0) / 1000;
  if (r.timedOut) return failed(`timed out after ${timeoutMs / 1000} s`);
  if (r.code !== 0) return failed(r.stderr || `exit status ${r.code}`);
  return { seconds, cpuSeconds: childrenCpu() - cpu0, maxRssKiB: null, bytes, extra: { stdout: r.stdout.trim().slice(0, 200) } };
}

/** Runs a command and returns its stdout (for facts such as versions); '' on failure. */
export async function output(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  return r.code === 0 ? r.stdout : '';
}
