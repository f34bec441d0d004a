/**
 * The startup stage (issue 15): the cost of starting cconv, as whole processes. `node bin/cconv.js
 * --version`, the floor `node -e 0` and `node bin/cconv.js --help` run in turn (A B C A B C ...,
 * after an uncounted warm-up round unless only one round is asked for, as by the --quick smoke
 * run), so that load from other work hits them alike. Each run is
 * its own `bash` that records the wall time around the child ($EPOCHREALTIME) and the child's
 * user+system CPU (`times`: getrusage of the reaped children, millisecond resolution). The target:
 * --version's median CPU at most 1.5x the floor's median CPU + 60 ms. --help has no target: it is
 * what parsing any command costs (yargs and every command's options), shown so that the fast
 * --version (answered before yargs loads) does not hide it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample } from './runner.ts';
import { summarize, type Measurement } from './stats.ts';

/** A command to time: argv[0] is run through PATH. */
export interface TimedCommand {
  id: string;
  label: string;
  argv: string[];
}

/** Median and spread of one command's runs, in seconds. */
export interface StartupSide {
  id: string;
  label: string;
  runs: number;
  wall: { median: number; min: number; max: number };
  cpu: { median: number; min: number; max: number };
}

/** The startup comparison and issue 15's target on it. */
export interface StartupResult {
  pairs: number;
  cconv: StartupSide;
  floor: StartupSide;
  help: StartupSide;
  /** cconv median CPU / floor median CPU. */
  cpuRatio: number;
  /** 1.5 x floor median CPU + 0.060 s. */
  cpuTargetSeconds: number;
  met: boolean;
}

const TIMED = 't0=$EPOCHREALTIME; "$@" >/dev/null; status=$?; t1=$EPOCHREALTIME; times; echo "$t0 $t1 $status"';

/** `times` prints `0m0.081s 0m0.024s`: minutes and seconds. */
function parseTimes(field: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(field);
  if (!m) throw new Error(`unexpected times output ${field}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Runs `argv` once from `cwd` under bash; its wall time and CPU (user+system) as a Sample. */
export function timeOnce(argv: string[], cwd: string): Promise<Sample> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', TIMED, 'bash', ...argv], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', () => {
      // Lines: the shell's own times, its children's times, "t0 t1 status".
      const lines = out.trim().split('\n');
      const [t0, t1, status] = (lines[2] ?? '').split(' ');
      const children = (lines[1] ?? '').split(' ');
      if (status !== '0' || children.length !== 2) {
        resolve({ seconds: 0, cpuSeconds: 0, maxRssKiB: null, bytes: 0, error: `${argv.join(' ')}: exit status ${status ?? '?'} ${err.trim().slice(0, 300)}` });
        return;
      }
      resolve({ seconds: Number(t1) - Number(t0), cpuSeconds: parseTimes(children[0]!) + parseTimes(children[1]!), maxRssKiB: null, bytes: 0 });
    });
  });
}

function spread(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2, min: s[0]!, max: s.at(-1)! };
}

function side(c: TimedCommand, samples: Sample[]): StartupSide {
  const ok = samples.filter((s) => s.error === undefined);
  return { id: c.id, label: c.label, runs: ok.length, wall: spread(ok.map((s) => s.seconds)), cpu: spread(ok.map((s) => s.cpuSeconds)) };
}

/** The commands the stage compares: the installed entry point against an empty Node. */
export function startupCommands(root: string): { cconv: TimedCommand; floor: TimedCommand; help: TimedCommand } {
  return {
    cconv: { id: 'startup/cconv-version', label: 'node bin/cconv.js --version (whole process)', argv: [process.execPath, join(root, 'bin/cconv.js'), '--version'] },
    floor: { id: 'limit/node-e-0', label: 'node -e 0 (whole process)', argv: [process.execPath, '-e', '0'] },
    help: { id: 'startup/cconv-help', label: 'node bin/cconv.js --help (whole process)', argv: [process.execPath, join(root, 'bin/cconv.js'), '--help'] },
  };
}

/**
 * Runs `pairs` interleaved rounds. The measurements are for results.json (all samples kept); the
 * result is undefined when a command has no successful run, e.g. without dist/ (npm run build).
 */
export async function measureStartup(root: string, pairs: number, commands = startupCommands(root)): Promise<{ measurements: Measurement[]; result?: StartupResult }> {
  const order = [commands.cconv, commands.floor, commands.help];
  const samples: Sample[][] = order.map(() => []);
  if (!existsSync(join(root, 'dist/cli/main.js'))) {
    // Without dist/ bin/cconv.js would time tsx compiling the sources: not what is installed.
    samples[0]!.push({ seconds: 0, cpuSeconds: 0, maxRssKiB: null, bytes: 0, error: 'dist/ is missing: run npm run build first' });
  } else {
    if (pairs > 1) for (const c of order) await timeOnce(c.argv, root); // warm-up round: file cache, not counted
    for (let i = 0; i < pairs; i++) {
      for (const [j, c] of order.entries()) samples[j]!.push(await timeOnce(c.argv, root));
    }
  }
  const measurements: Measurement[] = order.map((c, j) => ({ id: c.id, kind: c === commands.floor ? 'limit' : 'stage', label: c.label, samples: samples[j]!, summary: summarize(samples[j]!) }));
  if (samples.some((ss) => !ss.some((s) => s.error === undefined))) return { measurements };
  const [cconv, floor, help] = order.map((c, j) => side(c, samples[j]!)) as [StartupSide, StartupSide, StartupSide];
  const cpuTargetSeconds = 1.5 * floor.cpu.median + 0.06;
  return { measurements, result: { pairs, cconv, floor, help, cpuRatio: cconv.cpu.median / floor.cpu.median, cpuTargetSeconds, met: cconv.cpu.median <= cpuTargetSeconds } };
}

/** Text lines of a result (the log and `npm run bench:startup`). */
export function startupLines(r: StartupResult): string[] {
  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const row = (s: StartupSide) => `${s.label.padEnd(44)} wall ${ms(s.wall.median)} (${ms(s.wall.min)}-${ms(s.wall.max)})  CPU ${ms(s.cpu.median)} (${ms(s.cpu.min)}-${ms(s.cpu.max)})`;
  return [
    `startup, ${r.pairs} interleaved rounds, medians (min-max):`,
    row(r.cconv),
    row(r.floor),
    `${row(r.help)}  (no target: parsing any command)`,
    `CPU ${r.cpuRatio.toFixed(2)}x node -e 0; target <= 1.5 x ${ms(r.floor.cpu.median)} + 60 ms = ${ms(r.cpuTargetSeconds)}: ${r.met ? 'met' : 'NOT met'}`,
  ];
}
