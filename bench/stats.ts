/** Summaries of repeated samples: median and spread, throughput, ratios to limits. */
import type { Sample } from './runner.ts';

/** One measurement (a stage of cconv or a limit) over several runs. */
export interface Measurement {
  /** Unique id, e.g. `flatten-hash/medium/gzip`. */
  id: string;
  kind: 'stage' | 'limit';
  /** What is measured, e.g. `flatten + sha256`. */
  label: string;
  image?: string;
  compression?: 'gzip' | 'zstd';
  enclave?: string;
  samples: Sample[];
  summary: Summary | null;
}

/** Median and min/max over the successful samples. */
export interface Summary {
  runs: number;
  seconds: { median: number; min: number; max: number };
  cpuSeconds: number;
  /** Highest peak RSS over the runs, MiB; null when not measured. */
  maxRssMiB: number | null;
  bytes: number;
  /** bytes / median seconds, in MB/s (10^6). */
  mbPerSecond: number | null;
  error?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Summarises `samples`; null when none succeeded. */
export function summarize(samples: Sample[]): Summary | null {
  const ok = samples.filter((s) => s.error === undefined);
  if (ok.length === 0) return null;
  const secs = ok.map((s) => s.seconds);
  const rss = ok.map((s) => s.maxRssKiB).filter((x): x is number => x !== null);
  const med = median(secs);
  const bytes = ok[0]!.bytes;
  return {
    runs: ok.length,
    seconds: { median: med, min: Math.min(...secs), max: Math.max(...secs) },
    cpuSeconds: median(ok.map((s) => s.cpuSeconds)),
    maxRssMiB: rss.length ? Math.max(...rss) / 1024 : null,
    bytes,
    mbPerSecond: bytes > 0 && med > 0 ? bytes / 1e6 / med : null,
  };
}

/** A stage compared with its limit: `ratio` = stage time / limit time for the same bytes (1 = at the limit). */
export interface Ratio {
  stage: string;
  limit: string;
  ratio: number | null;
  /** The target, e.g. `<= 1.3` or `>= 0.5 (throughput)`. */
  target?: string;
  met?: boolean;
}

/**
 * Ratio of two measurements. `by: 'time'` (same input, e.g. one image): stage median seconds /
 * limit median seconds. `by: 'throughput'` (a limit measured over other bytes, e.g. one big
 * buffer): limit MB/s / stage MB/s.
 */
export function ratio(
  stage: Measurement | undefined,
  limit: Measurement | undefined,
  by: 'time' | 'throughput',
  target?: { max?: number; minThroughput?: number },
): Ratio | undefined {
  if (!stage || !limit) return undefined;
  let r: number | null = null;
  if (by === 'time') {
    const s = stage.summary?.seconds.median;
    const l = limit.summary?.seconds.median;
    r = s && l ? s / l : null;
  } else {
    const s = stage.summary?.mbPerSecond;
    const l = limit.summary?.mbPerSecond;
    r = s && l ? l / s : null;
  }
  const out: Ratio = { stage: stage.id, limit: limit.id, ratio: r };
  if (target?.max !== undefined) {
    out.target = `<= ${target.max}`;
    if (r !== null) out.met = r <= target.max;
  }
  if (target?.minThroughput !== undefined) {
    out.target = `throughput >= ${target.minThroughput}x limit`;
    if (r !== null) out.met = 1 / r >= target.minThroughput;
  }
  return out;
}
