/**
 * Checks flatten() against the real thing: every fixture Docker can load is loaded into a private
 * dockerd (from both docker-archive variants), a container is created and exported, and the
 * exported tree must equal flatten()'s view: same paths, types, modes, owners, link targets,
 * device numbers, file sha256s and hardlink groups. umoci (OCI layout, a second independent
 * implementation of the layer rules) must agree with both.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ensureFixtures, type FixtureInfo, type FixtureSet } from '../../fixtures/build.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { DockerArchiveSource } from '../../src/transports/docker-archive.ts';
import { OciLayoutSource } from '../../src/transports/oci-layout.ts';
import { sharedDockerd, type Dockerd } from '../helpers/dockerd.ts';
import { viewFromDir, viewFromRootfs, viewFromTar, without, type TreeView } from '../helpers/fixtures-views.ts';

const run = promisify(execFile);
const dockerd = sharedDockerd(test);
let fixtures: FixtureSet;

test.before(async () => {
  fixtures = await ensureFixtures();
});

/** What a container adds on top of its image (Docker's init layer and mount points). */
const DOCKER_ADDS = ['.dockerenv', 'dev', 'dev/**', 'proc', 'proc/**', 'sys', 'sys/**', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab'];

/** Loads `archive` into the daemon; returns the image id (`sha256:<config digest>`). */
async function load(d: Dockerd, archive: string, repoTag: string): Promise<string> {
  await d.docker(['load', '--quiet', '--input', archive]);
  return (await d.docker(['image', 'inspect', '--format', '{{.Id}}', repoTag])).toString().trim();
}

/** Exports a fresh container of `repoTag` and returns the tree without Docker's additions. */
async function exportedView(d: Dockerd, repoTag: string, imageHasEtc: boolean): Promise<TreeView> {
  // The command is never run; `create` only needs one when the image has none.
  const id = (await d.docker(['create', repoTag, '/cconv-never-run'])).toString().trim();
  try {
    const tar = await d.docker(['export', id]);
    const view = await viewFromTar(Readable.from([tar]));
    return without(view, imageHasEtc ? DOCKER_ADDS : [...DOCKER_ADDS, 'etc']);
  } finally {
    await d.docker(['rm', '--force', id]);
  }
}

/** flatten() over the fixture's OCI layout. */
async function flattenedView(f: FixtureInfo): Promise<TreeView> {
  const image = await new OciLayoutSource({ transport: 'oci', dir: f.paths.oci!, tag: 'latest' }).open();
  try {
    return viewFromRootfs(await flatten(image));
  } finally {
    await image.close();
  }
}

// Test titles must be known before `before` runs, so the lists are fixed here and checked below.
const DOCKER = ['hello', 'whiteouts', 'links', 'special', 'sparse'];
const UMOCI = [...DOCKER, 'implicit-parents'];

test('the comparisons cover every fixture marked for them', (t) => {
  const marked = (check: 'docker' | 'umoci') => fixtures.fixtures.filter((f) => f.checks.includes(check)).map((f) => f.name).sort();
  t.deepEqual(marked('docker'), [...DOCKER].sort());
  t.deepEqual(marked('umoci'), [...UMOCI].sort());
});

for (const name of DOCKER) {
  test.serial(`${name}: flatten() equals docker export, for both archive variants`, async (t) => {
    const d = await dockerd();
    const f = fixtures.get(name);
    const ours = await flattenedView(f);
    t.true(Object.keys(ours.entries).length > 0);
    const hasEtc = ours.entries.etc !== undefined;
    const ids: string[] = [];
    for (const format of ['docker-archive', 'docker-archive-oci'] as const) {
      ids.push(await load(d, fixtures.path(name, format), f.repoTag));
      const theirs = await exportedView(d, f.repoTag, hasEtc);
      t.deepEqual(ours, theirs, `${format}: flatten() differs from docker export`);
      await d.docker(['rmi', '--force', f.repoTag]);
    }
    // Docker's image id is the config digest: both archive variants carry the manifest's config.
    const manifest = JSON.parse(await readFile(join(f.paths.oci!, 'blobs', ...f.ociDigest.split(':')), 'utf8'));
    t.deepEqual(ids, [manifest.config.digest, manifest.config.digest]);
  });
}

for (const name of UMOCI) {
  test.serial(`${name}: umoci unpack of the OCI layout equals flatten()`, async (t) => {
    const f = fixtures.get(name);
    const work = await mkdtemp('/tmp/cconv-umoci-');
    try {
      const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
      await run('umoci', ['--log', 'error', 'unpack', ...rootless, '--image', `${f.paths.oci}:latest`, `${work}/bundle`]);
      const theirs = await viewFromDir(`${work}/bundle/rootfs`);
      t.deepEqual(await flattenedView(f), theirs);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

test.serial('docker archive reader agrees with the OCI layout reader', async (t) => {
  for (const name of UMOCI) {
    const f = fixtures.get(name);
    const ours = await flattenedView(f);
    for (const format of ['docker-archive', 'docker-archive-oci'] as const) {
      const image = await new DockerArchiveSource({ transport: 'docker-archive', file: fixtures.path(name, format) }).open();
      try {
        t.deepEqual(viewFromRootfs(await flatten(image)), ours, `${name} ${format}`);
      } finally {
        await image.close();
      }
    }
  }
});
