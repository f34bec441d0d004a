/**
 * The flatten limits on the command line (issue 17): --max-entries, --max-layers, --max-path-bytes
 * and --max-name-bytes on every command that flattens an image. Over a limit is E_UNSUPPORTED with
 * a hint naming the flag that raises it; a value that is not a positive integer is E_USAGE. Runs
 * the CLI in-process on the fixture images (hello: two layers, a handful of entries; the
 * gramine-runtime stand-in: one layer) and, for verify, on a confidential image built from them.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { ExitStatus } from '../../src/cli/exit.ts';
import { LIMIT_OPTIONS } from '../../src/cli/options/limits.ts';
import type { InspectResult } from '../../src/inspect.ts';
import { DEFAULT_FLATTEN_LIMITS, LIMIT_FLAGS } from '../../src/rootfs/limits.ts';
import type { FlattenLimits } from '../../src/rootfs/types.ts';
import { cli } from '../helpers/cli.ts';

let fixtures: FixtureSet;
let hello: string;
let runtime: string;
test.before(async () => {
  fixtures = await ensureFixtures();
  hello = `oci:${fixtures.path('hello', 'oci')}`;
  runtime = `oci:${fixtures.path('gramine-runtime', 'oci')}`;
});

const KEYS = Object.keys(DEFAULT_FLATTEN_LIMITS) as Array<keyof FlattenLimits>;

test('the CLI options, their shown defaults and the flags named by over-limit hints agree with the library', (t) => {
  t.deepEqual(Object.keys(LIMIT_OPTIONS).sort(), [...KEYS].sort());
  for (const key of KEYS) {
    t.is(`--${LIMIT_OPTIONS[key].flag}`, LIMIT_FLAGS[key], key);
    t.is(LIMIT_OPTIONS[key].default, String(DEFAULT_FLATTEN_LIMITS[key]), key);
  }
});

test('inspect: --max-entries 3 is E_UNSUPPORTED naming --max-entries; the default reads the image', async (t) => {
  const over = await cli(['inspect', hello, '--max-entries', '3']);
  t.is(over.status, ExitStatus.unsupported, over.stderr);
  t.regex(over.stderr, /E_UNSUPPORTED: layer \d+ \(sha256:[0-9a-f]{64}\): over the limit of 3 entries/);
  t.regex(over.stderr, /hint: .*--max-entries N/);
  const ok = await cli(['inspect', hello, '--json']);
  t.is(ok.status, 0, ok.stderr);
  const r = JSON.parse(ok.stdout) as InspectResult;
  // The limit counts at least every entry of the final tree, so the tree's size is enough.
  const entries = r.rootfs.files + r.rootfs.dirs + r.rootfs.symlinks + r.rootfs.hardlinks + r.rootfs.other;
  const raised = await cli(['inspect', hello, '--json', '--max-entries', String(entries * 2)]);
  t.is(raised.status, 0, raised.stderr);
  t.deepEqual(JSON.parse(raised.stdout), r);
});

test('measure: --max-layers 1 refuses the two-layer source (the one-layer runtime passes); the default measures', async (t) => {
  const over = await cli(['measure', hello, '--runtime-image', runtime, '--max-layers', '1']);
  t.is(over.status, ExitStatus.unsupported, over.stderr);
  t.regex(over.stderr, /E_UNSUPPORTED: the image has 2 layers, over the limit of 1/);
  t.regex(over.stderr, /hint: .*--max-layers N/);
  const ok = await cli(['measure', hello, '--runtime-image', runtime, '--json', '--max-layers', '2']);
  t.is(ok.status, 0, ok.stderr);
  const byDefault = await cli(['measure', hello, '--runtime-image', runtime, '--json']);
  t.is(byDefault.status, 0, byDefault.stderr);
  t.deepEqual(JSON.parse(ok.stdout), JSON.parse(byDefault.stdout));
});

test('measure: the limits apply to the runtime image too', async (t) => {
  const inspected = await cli(['inspect', runtime, '--json']);
  t.is(inspected.status, 0, inspected.stderr);
  const layer = (JSON.parse(inspected.stdout) as InspectResult).layers[0]!.digest;
  const over = await cli(['measure', hello, '--runtime-image', runtime, '--max-entries', '3']);
  t.is(over.status, ExitStatus.unsupported, over.stderr);
  t.true(over.stderr.includes(`layer 0 (${layer}): over the limit of 3 entries`), over.stderr);
});

test('build: --max-layers 1 refuses the two-layer source before anything is written', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'cconv-limits-build-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const key = join(work, 'enclave-key.pem');
  t.is((await cli(['keygen', key])).status, 0);
  const out = join(work, 'out');
  const over = await cli(['build', hello, '--runtime-image', runtime, '--key', key, '--output', `oci:${out}:sgx`, '--max-layers', '1']);
  t.is(over.status, ExitStatus.unsupported, over.stderr);
  t.regex(over.stderr, /E_UNSUPPORTED: the image has 2 layers, over the limit of 1/);
  t.regex(over.stderr, /hint: .*--max-layers N/);
  t.false(existsSync(join(out, 'index.json')));
  const ok = await cli(['build', hello, '--runtime-image', runtime, '--key', key, '--output', `oci:${out}:sgx`, '--max-layers', '2']);
  t.is(ok.status, 0, ok.stderr);
});

test('verify: the limits apply to the confidential image it reads', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'cconv-limits-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const key = join(work, 'enclave-key.pem');
  const gen = await cli(['keygen', key]);
  t.is(gen.status, 0, gen.stderr);
  const out = `oci:${join(work, 'out')}:app`;
  const built = await cli(['build', hello, '--runtime-image', runtime, '--output', out, '--key', key], { SOURCE_DATE_EPOCH: '1700000000' });
  t.is(built.status, 0, built.stderr);
  // Runtime, hello's two layers and cconv's own: more than two.
  const over = await cli(['verify', out, '--max-layers', '2']);
  t.is(over.status, ExitStatus.unsupported, over.stderr);
  t.regex(over.stderr, /E_UNSUPPORTED: the image has \d+ layers, over the limit of 2/);
  t.regex(over.stderr, /hint: .*--max-layers N/);
  const ok = await cli(['verify', out]);
  t.is(ok.status, 0, ok.stderr);
});

for (const command of ['inspect', 'measure', 'sign', 'verify']) {
  test(`${command}: every limit flag takes positive integers only (E_USAGE naming the flag)`, async (t) => {
    // Checked before any image, runtime or key is opened: none of these exists.
    const extra = command === 'sign' ? ['--output-dir', '/nonexistent/out'] : [];
    for (const key of KEYS) {
      const flag = LIMIT_FLAGS[key];
      for (const bad of ['0', '-5', '1.5', 'many']) {
        const run = await cli([command, 'oci:/nonexistent/image', ...extra, flag, bad]);
        t.is(run.status, ExitStatus.usage, `${flag} ${bad}: ${run.stderr}`);
        t.regex(run.stderr, new RegExp(`E_USAGE: ${flag} must be a positive integer`), `${flag} ${bad}`);
      }
      const repeated = await cli([command, 'oci:/nonexistent/image', ...extra, flag, '5', flag, '6']);
      t.is(repeated.status, ExitStatus.usage, repeated.stderr);
      t.true(repeated.stderr.includes(`E_USAGE: ${flag} is given more than once`), repeated.stderr);
      const bare = await cli([command, 'oci:/nonexistent/image', ...extra, flag]);
      t.is(bare.status, ExitStatus.usage, `a bare ${flag} is not the default: ${bare.stderr}`);
      t.true(bare.stderr.includes(`E_USAGE: ${flag} needs a value`), bare.stderr);
    }
  });
}
