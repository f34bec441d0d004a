/**
 * fixtures/debs.ts: the packages fixtures take files from are apt's candidates (nothing pinned by
 * hand), recorded as the .deb itself says (`dpkg-deb -f`) with the file's sha256; a warm cache
 * resolves them without running apt or dpkg at all (so without network); without apt the error
 * says what is missing. Runs apt-cache once (local lists only).
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEB_CACHE_DIR, FIXTURE_DEBS, fetchDebs } from '../../fixtures/debs.ts';

let work: string;

test.before(async () => {
  fetchDebs(); // warm the cache (downloads on a fresh checkout)
  work = await mkdtemp('/tmp/cconv-fixtures-debs-');
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Resolves the packages in a child process whose PATH holds nothing (no apt, no dpkg). */
function fetchWithoutTools(cacheDir: string): Promise<{ ok: boolean; out: string }> {
  const script = `const { fetchDebs } = await import(${JSON.stringify(new URL('../../fixtures/debs.ts', import.meta.url).href)});
process.stdout.write(JSON.stringify([...fetchDebs(process.env.CACHE_DIR).values()]));`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { env: { PATH: '/nonexistent', CACHE_DIR: cacheDir }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: err === null, out: err ? stderr : stdout });
    });
  });
}

test('each package is apt\'s candidate, recorded as its .deb says, with the file\'s sha256', (t) => {
  const debs = fetchDebs();
  t.deepEqual([...debs.keys()], [...FIXTURE_DEBS]);
  const show = execFileSync('apt-cache', ['show', '--no-all-versions', ...FIXTURE_DEBS], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  for (const d of debs.values()) {
    const file = join(DEB_CACHE_DIR, d.package, `${d.sha256}.deb`);
    t.is(createHash('sha256').update(readFileSync(file)).digest('hex'), d.sha256, d.package);
    t.is(execFileSync('dpkg-deb', ['-f', file, 'Version'], { encoding: 'utf8' }).trim(), d.version, d.package);
    const record = show.split(/\n\n+/).find((r) => r.startsWith(`Package: ${d.package}\n`));
    t.regex(record ?? '', new RegExp(`^Version: ${d.version.replace(/[.+]/g, '\\$&')}$`, 'm'), d.package);
    t.regex(record ?? '', new RegExp(`^SHA256: ${d.sha256}$`, 'm'), d.package);
    t.is(execFileSync('dpkg-deb', ['-f', file, 'Package'], { encoding: 'utf8' }).trim(), d.package);
  }
});

test('a warm cache needs neither apt nor dpkg (no network): the same packages with PATH empty', async (t) => {
  const r = await fetchWithoutTools(DEB_CACHE_DIR);
  t.true(r.ok, r.out);
  t.deepEqual(JSON.parse(r.out), [...fetchDebs().values()]);
});

test('a cold cache without apt fails with a message that says so', async (t) => {
  const r = await fetchWithoutTools(join(work, 'empty-cache'));
  t.false(r.ok);
  t.regex(r.out, /fixtures: apt-cache was not found; the fixtures take files from Debian packages and need apt/);
});
