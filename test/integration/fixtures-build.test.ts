/**
 * The fixture generator: deterministic output, the documented set of fixtures, OCI layouts that
 * skopeo (containers/image) accepts, and hostile fixtures whose defects are really there and that
 * skopeo rejects for the intended reason.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { buildFixtures, ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';

const run = promisify(execFile);
let fixtures: FixtureSet;
let work: string;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-fixtures-test-');
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** sha256 of every file below `dir`, by relative path. */
async function tree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) Object.assign(out, await tree(dir, p));
    else out[p] = createHash('sha256').update(await readFile(join(dir, p))).digest('hex');
  }
  return out;
}

const blobPath = (layout: string, digest: string): string => join(layout, 'blobs', ...digest.split(':'));
const readJson = async (p: string): Promise<any> => JSON.parse(await readFile(p, 'utf8'));

/** The single-image manifest of a fixture's OCI layout. */
async function manifestOf(name: string): Promise<any> {
  const f = fixtures.get(name);
  return readJson(blobPath(f.paths.oci!, f.ociDigest));
}

/** Tar member names of a buffer, in order. */
async function memberNames(tar: Buffer): Promise<Array<{ name: string; type: string | null | undefined }>> {
  const ex = extract();
  Readable.from([tar]).pipe(ex);
  const names: Array<{ name: string; type: string | null | undefined }> = [];
  for await (const e of ex) {
    names.push({ name: e.header.name, type: e.header.type });
    e.resume();
  }
  return names;
}

test('two builds give identical bytes', async (t) => {
  buildFixtures(join(work, 'a'));
  buildFixtures(join(work, 'b'));
  const a = await tree(join(work, 'a'));
  t.true(Object.keys(a).length > 100);
  t.deepEqual(await tree(join(work, 'b')), a);
});

test('the fixture set is the documented one', (t) => {
  t.deepEqual(
    fixtures.fixtures.map((f) => [f.name, f.expectError ?? '', f.formats.join(',')].join(' ')),
    [
      'hello  oci,docker-archive,docker-archive-oci',
      'whiteouts  oci,docker-archive,docker-archive-oci',
      'links  oci,docker-archive,docker-archive-oci',
      'special  oci,docker-archive,docker-archive-oci',
      'sparse  oci,docker-archive,docker-archive-oci',
      'sparse-gnu  oci,docker-archive,docker-archive-oci',
      'implicit-parents  oci,docker-archive,docker-archive-oci',
      'multiarch  oci',
      'zstd  oci',
      'gramine-runtime  oci,docker-archive,docker-archive-oci',
      'gramine-runtime-1.8  oci,docker-archive,docker-archive-oci',
      'app-glibc  oci,docker-archive,docker-archive-oci',
      'app-musl  oci,docker-archive,docker-archive-oci',
      'app-static  oci,docker-archive,docker-archive-oci',
      'hostile-absolute-path E_UNSAFE_PATH oci,docker-archive,docker-archive-oci',
      'hostile-dotdot-path E_UNSAFE_PATH oci,docker-archive,docker-archive-oci',
      'hostile-symlink-write E_UNSAFE_PATH oci,docker-archive,docker-archive-oci',
      'hostile-hardlink-escape E_LINK_ESCAPE oci,docker-archive,docker-archive-oci',
      'hostile-symlink-escape E_LINK_ESCAPE oci,docker-archive,docker-archive-oci',
      'hostile-whiteout-dotdot E_WHITEOUT_INVALID oci,docker-archive,docker-archive-oci',
      'hostile-truncated-gzip E_LAYER_CORRUPT oci,docker-archive,docker-archive-oci',
      'hostile-corrupt-blob E_DIGEST_MISMATCH oci,docker-archive,docker-archive-oci',
      'hostile-missing-blob E_BLOB_MISSING oci,docker-archive,docker-archive-oci',
    ],
  );
  for (const f of fixtures.fixtures) for (const p of Object.values(f.paths)) t.true(existsSync(p), p);
});

for (const name of ['hello', 'whiteouts', 'links', 'special', 'sparse', 'sparse-gnu', 'implicit-parents', 'zstd', 'multiarch', 'gramine-runtime', 'gramine-runtime-1.8', 'app-glibc', 'app-musl', 'app-static']) {
  test(`${name}: skopeo copies the OCI layout with every digest verified`, async (t) => {
    const f = fixtures.get(name);
    const dest = join(work, `copy-${name}`);
    await run('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', `oci:${f.paths.oci}:latest`, `oci:${dest}:latest`]);
    const index = await readJson(join(dest, 'index.json'));
    t.is(index.manifests[0].digest, f.ociDigest);
  });
}

test('multiarch: the index lists linux/amd64 and linux/arm64/v8', async (t) => {
  const idx = await manifestOf('multiarch');
  t.is(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  t.deepEqual(idx.manifests.map((m: any) => m.platform), [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
});

test('zstd: layers are zstd frames, as their media types say', async (t) => {
  const m = await manifestOf('zstd');
  t.deepEqual(m.layers.map((l: any) => l.mediaType.split('.').pop()), ['tar+zstd', 'tar+zstd', 'tar+gzip']);
  const first = await readFile(blobPath(fixtures.get('zstd').paths.oci!, m.layers[0].digest));
  t.deepEqual([...first.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
});

test('sparse fixtures use the sparse formats they claim', async (t) => {
  const pax = gunzipSync(await readFile(blobPath(fixtures.get('sparse').paths.oci!, (await manifestOf('sparse')).layers[0].digest)));
  t.true(pax.includes('GNU.sparse.major=1') && pax.includes('GNUSparseFile.0/pax.bin'));
  t.true(pax.length < 40_000); // holes are not stored
  const gnu = gunzipSync(await readFile(blobPath(fixtures.get('sparse-gnu').paths.oci!, (await manifestOf('sparse-gnu')).layers[0].digest)));
  t.deepEqual((await memberNames(gnu)).map((m) => m.name), ['sparse/', 'sparse/gnu.bin']);
  t.is(gnu.toString('latin1', 512 + 156, 512 + 157), 'S'); // second header: old GNU sparse typeflag
});

test('path hostiles carry the hostile names', async (t) => {
  const names = async (fixture: string, layer: number) => {
    const m = await manifestOf(fixture);
    return (await memberNames(gunzipSync(await readFile(blobPath(fixtures.get(fixture).paths.oci!, m.layers[layer].digest))))).map((e) => `${e.type} ${e.name}`);
  };
  t.deepEqual(await names('hostile-absolute-path', 0), ['file /abs-evil']);
  t.deepEqual(await names('hostile-dotdot-path', 0), ['directory dir/', 'file dir/../../evil']);
  t.deepEqual(await names('hostile-symlink-write', 1), ['file x/evil']);
  t.deepEqual(await names('hostile-hardlink-escape', 0), ['link evil']);
  t.deepEqual(await names('hostile-symlink-escape', 0), ['symlink evil']);
  t.deepEqual(await names('hostile-whiteout-dotdot', 1), ['file a/.wh...']);
});

test('hostile-truncated-gzip: blob matches its descriptor but is a cut gzip stream', async (t) => {
  const m = await manifestOf('hostile-truncated-gzip');
  const blob = await readFile(blobPath(fixtures.get('hostile-truncated-gzip').paths.oci!, m.layers[0].digest));
  t.is(`sha256:${createHash('sha256').update(blob).digest('hex')}`, m.layers[0].digest);
  t.is(blob.length, m.layers[0].size);
  t.throws(() => gunzipSync(blob), { code: 'Z_BUF_ERROR' });
});

test('hostile-corrupt-blob: skopeo rejects the layer for its digest', async (t) => {
  const f = fixtures.get('hostile-corrupt-blob');
  const m = await manifestOf('hostile-corrupt-blob');
  const blob = await readFile(blobPath(f.paths.oci!, m.layers[0].digest));
  t.is(blob.length, m.layers[0].size);
  t.not(`sha256:${createHash('sha256').update(blob).digest('hex')}`, m.layers[0].digest);
  const err = await t.throwsAsync(run('skopeo', ['copy', '--quiet', `oci:${f.paths.oci}:latest`, `oci:${join(work, 'corrupt')}:latest`]));
  t.regex(String((err as { stderr?: string }).stderr), /digest/i);
});

test('hostile-missing-blob: the layer blob is absent and skopeo fails on it', async (t) => {
  const f = fixtures.get('hostile-missing-blob');
  const m = await manifestOf('hostile-missing-blob');
  t.true(existsSync(blobPath(f.paths.oci!, m.layers[0].digest)));
  t.false(existsSync(blobPath(f.paths.oci!, m.layers[1].digest)));
  const err = await t.throwsAsync(run('skopeo', ['copy', '--quiet', `oci:${f.paths.oci}:latest`, `oci:${join(work, 'missing')}:latest`]));
  t.regex(String((err as { stderr?: string }).stderr), new RegExp(m.layers[1].digest.split(':')[1]));
});
