/**
 * Child-process entry of the benchmark: `node --import=tsx bench/stage.ts NAME 'JSON-ARGS'` runs one
 * stage once and prints one JSON line: seconds (wall of the stage), cpuSeconds (user+system of the
 * whole process during the stage, thread pool included), maxRssKiB (peak RSS of this process),
 * bytes and extra. Exit status 1 with the error on stderr on failure.
 */
import { STAGES } from './stages.ts';

const [name, json] = process.argv.slice(2);
const stage = name === undefined ? undefined : STAGES[name];
if (stage === undefined) {
  process.stderr.write(`unknown stage ${name}; known: ${Object.keys(STAGES).join(', ')}\n`);
  process.exit(2);
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
try {
  const out = await stage(JSON.parse(json ?? '{}'));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const line = {
    seconds: out.seconds ?? wall,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssKiB: process.resourceUsage().maxRSS,
    bytes: out.bytes,
    extra: out.extra ?? {},
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stderr.write(`${e.code ?? 'ERROR'}: ${e.message ?? String(err)}\n`);
  process.exit(1);
}
