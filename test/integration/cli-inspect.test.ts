/**
 * `cconv inspect` over every fixture and every format it is built in: good fixtures print their
 * config and tree; hostile ones fail with their documented code and exit status, and leave
 * nothing behind in the temp dir (a docker-archive is spooled there while read).
 */
import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { exitStatusFor } from '../../src/cli/exit.ts';
import { CconvError } from '../../src/errors.ts';
import type { InspectResult } from '../../src/inspect.ts';
import { cli } from '../helpers/cli.ts';

let fixtures: FixtureSet;
test.before(async () => {
  fixtures = await ensureFixtures();
});

const TRANSPORT = { oci: 'oci:', 'docker-archive': 'docker-archive:', 'docker-archive-oci': 'docker-archive:' } as const;

async function inspect(ref: string, extra: string[] = []) {
  const tmp = await mkdtemp(join(tmpdir(), 'cconv-inspect-'));
  try {
    const run = await cli(['inspect', ref, '--json', '--tmp-dir', tmp, ...extra]);
    return { ...run, leftovers: await readdir(tmp) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

test('hello: config, layers and tree are reported exactly, in every format', async (t) => {
  const hello = fixtures.get('hello');
  const results: InspectResult[] = [];
  for (const format of hello.formats) {
    const run = await inspect(`${TRANSPORT[format]}${hello.paths[format]}`, ['--files']);
    t.is(run.status, 0, `${format}: ${run.stderr}`);
    t.deepEqual(run.leftovers, [], `${format} left temp files`);
    results.push(JSON.parse(run.stdout) as InspectResult);
  }
  const r = results[0]!;
  t.deepEqual(r.config.entrypoint, ['/app/hello']);
  t.deepEqual(r.config.cmd, ['--greet', 'world']);
  t.is(r.config.workingDir, '/app');
  t.is(r.config.user, 'app');
  t.true(r.config.env.includes('GREETING=hi'));
  t.is(r.platform, 'linux/amd64');
  t.regex(r.manifestDigest, /^sha256:[0-9a-f]{64}$/);
  const app = r.files!.find((f) => f.path === '/app/hello')!;
  t.is(app.type, 'file');
  t.is(app.mode, '0755');
  t.is(app.uid, 1000);
  t.regex(app.sha256!, /^[0-9a-f]{64}$/);
  // Every format describes the same tree and config (the legacy archive has its own manifest digest).
  for (const other of results.slice(1)) {
    t.deepEqual(other.files, r.files);
    t.deepEqual(other.config, r.config);
    t.deepEqual(other.rootfs, r.rootfs);
    t.deepEqual(other.layers.map((l) => l.diffId), r.layers.map((l) => l.diffId));
  }
});

test('multiarch: linux/amd64 by default, --platform picks another, a missing platform is E_PLATFORM_NOT_FOUND', async (t) => {
  const dir = fixtures.path('multiarch', 'oci');
  const amd = JSON.parse((await inspect(`oci:${dir}`)).stdout) as InspectResult;
  t.is(amd.platform, 'linux/amd64');
  const arm = JSON.parse((await inspect(`oci:${dir}`, ['--platform', 'linux/arm64'])).stdout) as InspectResult;
  t.is(arm.platform, 'linux/arm64/v8');
  t.not(arm.manifestDigest, amd.manifestDigest);
  const none = await inspect(`oci:${dir}`, ['--platform', 'linux/s390x']);
  t.is((JSON.parse(none.stdout) as { error: { code: string } }).error.code, 'E_PLATFORM_NOT_FOUND');
  t.regex(none.stderr, /linux\/amd64, linux\/arm64/);
});

test('every non-hostile fixture inspects successfully in every format', async (t) => {
  for (const f of fixtures.fixtures.filter((x) => x.expectError === undefined)) {
    for (const format of f.formats) {
      const run = await inspect(`${TRANSPORT[format]}${f.paths[format]}`, ['--files']);
      t.is(run.status, 0, `${f.name} ${format}: ${run.stderr}`);
      t.deepEqual(run.leftovers, [], `${f.name} ${format} left temp files`);
    }
  }
});

test('every hostile fixture fails with its code and exit status, naming the layer, and leaves nothing behind', async (t) => {
  const hostile = fixtures.fixtures.filter((x) => x.expectError !== undefined);
  t.true(hostile.length >= 9);
  for (const f of hostile) {
    for (const format of f.formats) {
      const run = await inspect(`${TRANSPORT[format]}${f.paths[format]}`);
      const out = JSON.parse(run.stdout) as { error: { code: string | undefined } };
      t.is(out.error.code, f.expectError, `${f.name} ${format}: ${run.stderr}`);
      t.is(run.status, exitStatusFor(new CconvError(f.expectError!, '')), `${f.name} ${format}`);
      t.regex(run.stderr, /^cconv: error E_[A-Z_]+: .+\n {2}hint: |^cconv: error E_[A-Z_]+: .+\n$/m);
      if (!['E_BLOB_MISSING'].includes(f.expectError!)) t.regex(run.stderr, /layer \d/, `${f.name} ${format} names no layer`);
      t.deepEqual(run.leftovers, [], `${f.name} ${format} left temp files`);
    }
  }
});
