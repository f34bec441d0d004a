/**
 * Benchmark: MRENCLAVE of a 64G enclave with 4 threads (the PAL stand-in from the golden vectors),
 * against Node's raw sha256 over one buffer of the same number of bytes, in the same run.
 * Run: node --import=tsx bench/measure.ts
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { computeMrenclave, loadGramineConstants } from '../src/measure/index.ts';

const constants = await loadGramineConstants('1.9');
const libpal = readFileSync(new URL('../../shared/vectors/inputs/libpal-standin/libpal.so', import.meta.url));
const manifestSgx = Buffer.from('[sgx]\nenclave_size = "64G"\nmax_threads = 4\n');

/** Bytes the measurement hashes: ECREATE + per page EADD, + 16 x (EEXTEND header + 256) if measured. */
function hashedBytes(layout: Awaited<ReturnType<typeof computeMrenclave>>['layout']): number {
  const P = constants.num('PAGESIZE');
  let n = 64;
  for (const a of layout) {
    const pages = a.size / P;
    n += pages * 64 + (a.measured ? pages * (P / 256) * (64 + 256) : 0);
  }
  return n;
}

const runs = Number(process.env.RUNS ?? 3);
let best = Infinity;
let result: Awaited<ReturnType<typeof computeMrenclave>> | undefined;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  result = await computeMrenclave({ manifestSgx, libpal, constants });
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
const bytes = hashedBytes(result!.layout);
const big = Buffer.alloc(bytes, 0x5a);
let raw = Infinity;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  createHash('sha256').update(big).digest();
  raw = Math.min(raw, Number(process.hrtime.bigint() - t0) / 1e9);
}
const mib = bytes / 2 ** 20;
console.log(`enclave 64G, 4 threads: MRENCLAVE ${result!.mrenclave}`);
console.log(`bytes hashed: ${bytes} (${mib.toFixed(0)} MiB)`);
console.log(`computeMrenclave: ${best.toFixed(3)} s (${(mib / best).toFixed(0)} MiB/s), best of ${runs}`);
console.log(`node sha256 raw : ${raw.toFixed(3)} s (${(mib / raw).toFixed(0)} MiB/s), best of ${runs}`);
console.log(`ratio: ${(best / raw).toFixed(3)}`);
