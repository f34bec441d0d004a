/**
 * `cconv copy` round trip through a private dockerd and a TLS + htpasswd registry:
 * `docker load` a fixture, daemon -> cconv -> registry -> cconv -> daemon under another name, and
 * `docker image inspect` gives the same Id (config digest) and RootFS layers for both. A copy that
 * fails (corrupt source blob) loads nothing and leaves no temp files.
 */
import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import type { CopyCommandResult } from '../../src/cli/commands/copy.ts';
import { cli } from '../helpers/cli.ts';
import { sharedDockerd } from '../helpers/dockerd.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const dockerd = sharedDockerd(test);
let fixtures: FixtureSet;
let registry: TestRegistry;
let work: string;

test.before(async () => {
  [fixtures, registry] = await Promise.all([ensureFixtures(), startRegistry({ tls: true, auth: 'htpasswd' })]);
  work = await mkdtemp(join(tmpdir(), 'cconv-copydaemon-'));
});

test.after.always(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface DockerImage {
  Id: string;
  RootFS: { Layers: string[] };
  Config: { Entrypoint: string[]; Cmd: string[] };
}

test('daemon -> registry -> daemon keeps the image Id and its layers', async (t) => {
  const d = await dockerd();
  const tmp = await mkdtemp(join(work, 'tmp-'));
  const env = { DOCKER_HOST: d.dockerHost, DOCKER_CONFIG: work };
  const auth = ['--cert-file', registry.caFile, '--username', registry.username, '--password-stdin', '--tmp-dir', tmp, '--json'];
  const inspect = async (name: string): Promise<DockerImage> => (JSON.parse((await d.docker(['image', 'inspect', name])).toString()) as DockerImage[])[0]!;

  await d.docker(['load', '-i', fixtures.path('hello', 'docker-archive')]);
  const original = await inspect('cconv-fixture/hello:latest');

  const target = `docker://${registry.host}/roundtrip/hello:1`;
  const push = await cli(['copy', 'docker-daemon:cconv-fixture/hello:latest', target, ...auth], env, registry.password);
  t.is(push.status, 0, push.stderr);
  const pushed = JSON.parse(push.stdout) as CopyCommandResult;
  t.is(pushed.copied, 3);

  const pull = await cli(['copy', target, 'docker-daemon:cconv-roundtrip/hello2:v2', ...auth], env, registry.password);
  t.is(pull.status, 0, pull.stderr);
  t.is((JSON.parse(pull.stdout) as CopyCommandResult).digest, pushed.digest);

  const back = await inspect('cconv-roundtrip/hello2:v2');
  t.is(back.Id, original.Id);
  t.deepEqual(back.RootFS.Layers, original.RootFS.Layers);
  t.deepEqual(back.Config.Entrypoint, ['/app/hello']);
  t.deepEqual(await readdir(tmp), [], 'temp files left behind');
});

test('a copy into the daemon that fails mid-way loads nothing', async (t) => {
  const d = await dockerd();
  const tmp = await mkdtemp(join(work, 'tmp-'));
  const run = await cli(['copy', `oci:${fixtures.path('hostile-corrupt-blob', 'oci')}:latest`, 'docker-daemon:cconv-bad/never:1', '--tmp-dir', tmp, '--json'], { DOCKER_HOST: d.dockerHost });
  t.is(run.status, 4);
  t.is((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'E_DIGEST_MISMATCH');
  await t.throwsAsync(d.docker(['image', 'inspect', 'cconv-bad/never:1']), { message: /No such image/i });
  t.deepEqual(await readdir(tmp), []);
});
