/** Facts about the machine and the external limits that need no input files (openssl speed). */
import { cpus, loadavg, totalmem } from 'node:os';
import { output, type Sample } from './runner.ts';

/** What the results were measured on. */
export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  openssl: string;
  tools: Record<string, string>;
  date: string;
  /** 1-minute load average at the start and end of the run: other work on the machine skews the figures. */
  loadAverage: { start: number; end?: number };
}

/** Collects the machine facts (tool versions are '' when a tool is missing). */
export async function machineFacts(): Promise<MachineFacts> {
  const first = async (cmd: string, args: string[]) => (await output(cmd, args)).split('\n')[0]!.trim();
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    openssl: await first('openssl', ['version']),
    tools: {
      igzip: await first('igzip', ['--version']),
      zstd: await first('zstd', ['--version']),
      sha256sum: await first('sha256sum', ['--version']),
      skopeo: await first('skopeo', ['--version']),
    },
    date: new Date().toISOString(),
    loadAverage: { start: loadavg()[0]! },
  };
}

/**
 * `openssl speed -evp ALG -seconds S -bytes 16384` (one core): bytes per second from the last
 * line, whose last field is in thousands of bytes per second ("123456.78k").
 */
export async function opensslSpeed(alg: string, seconds: number): Promise<Sample> {
  const t0 = performance.now();
  const text = await output('openssl', ['speed', '-evp', alg, '-seconds', String(seconds), '-bytes', '16384'], 120_000);
  const wall = (performance.now() - t0) / 1000;
  const last = text.trim().split('\n').pop() ?? '';
  const m = /([\d.]+)k\s*$/.exec(last);
  if (!m) return { seconds: 0, cpuSeconds: 0, maxRssKiB: null, bytes: 0, error: `cannot parse openssl speed output: ${last.slice(0, 100)}` };
  const perSecond = Number(m[1]) * 1000;
  // Expressed as "1 GB in N seconds" so it summarises like the other samples.
  return { seconds: 1e9 / perSecond, cpuSeconds: wall, maxRssKiB: null, bytes: 1e9, extra: { line: last.trim() } };
}
