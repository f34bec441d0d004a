/**
 * `npm run bench [-- OPTIONS]`: runs the benchmark suite and writes bench/results.{json,md,svg}.
 *   --sizes small,medium   image sizes (tiny 4 MB, small 100 MB, medium 1 GB, large 4 GB); default small,medium
 *   --full                 adds large (4 GB / 100,000 files; about 25 more minutes on 2 cores: opt-in)
 *   --runs N               runs per measurement (default 3)
 *   --enclaves 256M,4G,... enclave sizes (default 256M,4G,64G,1024G-edmm)
 *   --no-push              skip the registry push (needs docker-registry and skopeo)
 *   --keep                 keep the generated images in bench/work and reuse them
 *   --quick                tiny inputs, 1 run, no push, small enclaves (smoke test, seconds)
 *   --pairs N              interleaved rounds of the startup stage (default 20; 1 with --quick)
 *   --startup              only the startup stage (needs dist/: npm run bench:startup builds it); prints, writes nothing
 *   --out DIR              where to write the results (default bench/)
 *   --render FILE.json     only re-render results.md/.svg from an existing results.json
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart, renderMarkdown } from './render.ts';
import { measureStartup, startupLines } from './startup.ts';
import { DEFAULT_ENCLAVES, runSuite, type SuiteResults } from './suite.ts';
import { IMAGE_SPECS } from './tree.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const here = fileURLToPath(new URL('.', import.meta.url));

/** Writes results.json (unless re-rendering), results.svg and results.md into `dir`. */
async function writeResults(dir: string, results: SuiteResults, json: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (json) await writeFile(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(dir, 'results.svg'), renderChart(results));
  await writeFile(join(dir, 'results.md'), renderMarkdown(results, 'results.svg'));
}

const render = value('render');
if (render !== undefined) {
  const results = JSON.parse(await readFile(render, 'utf8')) as SuiteResults;
  await writeResults(value('out') ?? here, results, false);
  process.exit(0);
}
const quick = flag('quick');
const pairs = Number(value('pairs') ?? (quick ? 1 : 20));
if (flag('startup')) {
  const { result, measurements } = await measureStartup(join(here, '..'), pairs);
  if (!result) {
    process.stderr.write(`startup failed: ${measurements.flatMap((m) => m.samples).find((s) => s.error)?.error}\n`);
    process.exit(1);
  }
  process.stdout.write(`${startupLines(result).join('\n')}\n`);
  process.exit(0);
}
let images = (value('sizes') ?? (quick ? 'tiny' : 'small,medium')).split(',');
if (flag('full') && !images.includes('large')) images.push('large');
const unknown = images.filter((i) => !(i in IMAGE_SPECS));
if (unknown.length) {
  process.stderr.write(`unknown size(s) ${unknown.join(', ')}; known: ${Object.keys(IMAGE_SPECS).join(', ')}\n`);
  process.exit(2);
}
const enclaves = value('enclaves')
  ? value('enclaves')!.split(',').map((e) => ({ size: e.replace(/-edmm$/, ''), edmm: e.endsWith('-edmm') }))
  : quick ? [{ size: '256M', edmm: false }, { size: '1024G', edmm: true }] : DEFAULT_ENCLAVES;
const out = value('out') ?? here;
const work = join(here, 'work', quick ? `quick-${process.pid}` : 'suite');

try {
  const results = await runSuite({
    images,
    enclaves,
    runs: Number(value('runs') ?? (quick ? 1 : 3)),
    work,
    keep: flag('keep'),
    push: !quick && !flag('no-push'),
    bufferMiB: quick ? 16 : 256,
    opensslSeconds: quick ? 1 : 2,
    startupPairs: pairs,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await writeResults(out, results, true);
  process.stdout.write(`wrote ${join(out, 'results.{json,md,svg}')} (${(results.seconds / 60).toFixed(1)} min)\n`);
} finally {
  if (!flag('keep')) await rm(work, { recursive: true, force: true });
}
