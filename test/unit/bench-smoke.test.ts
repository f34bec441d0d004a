/**
 * Smoke test of the benchmark suite: `bench/run.ts --quick` runs end to end on tiny inputs and
 * writes results.json / .md / .svg that parse and hold every measurement. No timing is asserted.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SuiteResults } from '../../bench/suite.ts';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

test('bench --quick writes valid results', async (t) => {
  // A whole (tiny) benchmark run: about 1.5 min on a quiet 2-core machine, several minutes when
  // other test files run beside it. No timing is asserted; the bound only catches a hang.
  t.timeout(600_000);
  const out = await mkdtemp(join(tmpdir(), 'cconv-bench-smoke-'));
  try {
    await exec(process.execPath, ['--import=tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: root, timeout: 540_000 });
    const r = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as SuiteResults;
    t.is(r.machine.node, process.version);
    t.true(r.machine.cores > 0);
    t.regex(r.machine.openssl, /OpenSSL/);
    t.deepEqual(r.options.images, ['tiny']);
    t.is(r.images[0]!.files, 200);
    t.is(r.images[0]!.contentBytes, 4_000_000);
    const ids = r.measurements.map((m) => m.id);
    for (const id of ['baseline/noop', 'limit/node-sha256', 'limit/openssl-sha256', 'limit/openssl-aes-128-gcm', 'measure/256M', 'measure/1024G-edmm', 'sign',
      'read/tiny/gzip', 'flatten-hash/tiny/gzip', 'limit/node-inflate-sha256/tiny', 'limit/igzip-openssl/tiny', 'limit/zstd-sha256sum/tiny', 'encrypt/tiny']) {
      t.true(ids.includes(id), id);
      const m = r.measurements.find((x) => x.id === id)!;
      t.not(m.summary, null, `${id}: ${m.samples.at(-1)?.error}`);
    }
    // Every measurement is either summarised or carries the error of its failed run.
    for (const m of r.measurements) t.true(m.summary !== null || typeof m.samples.at(-1)?.error === 'string', m.id);
    // Bytes processed are exact: the flattened tree holds the planned content, the read stage the whole tars.
    t.is(r.measurements.find((m) => m.id === 'flatten-hash/tiny/gzip')!.summary!.bytes, 4_000_000);
    t.is(r.measurements.find((m) => m.id === 'read/tiny/gzip')!.summary!.bytes, r.images[0]!.tarBytes);
    t.is(r.measurements.find((m) => m.id === 'encrypt/tiny')!.summary!.bytes, 4_000_000);
    const md = await readFile(join(out, 'results.md'), 'utf8');
    t.regex(md, /\| read\/tiny\/gzip \| limit\/node-inflate\/tiny \| \d+\.\d\d \|/);
    const svg = await readFile(join(out, 'results.svg'), 'utf8');
    t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    t.true(svg.trimEnd().endsWith('</svg>'));
    t.regex(svg, /polyline/);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
