/**
 * What `npm pack` puts in the package (package.json `files`): only what runs. The compiled CLI
 * (dist/), its entry point, the data it reads at run time (runtimes/, policies/) and the native
 * encoder's source with its build script (compiled on install); no tests, benchmark, fixtures, docs
 * or TypeScript sources. Packs with --ignore-scripts (`prepare` would rebuild dist/); dist/ is built
 * first only when the checkout has none (npm test builds it before the tests).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface PackEntry {
  name: string;
  files: Array<{ path: string; mode: number }>;
}

test('npm pack lists only what runs: dist, bin, runtime data and the native encoder source', async (t) => {
  if (!existsSync(join(root, 'dist/cli/main.js'))) await exec('npm', ['run', 'build', '--silent'], { cwd: root, timeout: 120_000 });
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 });
  const [entry] = JSON.parse(stdout) as PackEntry[];
  t.is(entry!.name, '@cconv-dev/cconv');
  const paths = entry!.files.map((f) => f.path);

  const allowed = [/^bin\/cconv\.js$/, /^dist\/.+\.js$/, /^runtimes\//, /^policies\//, /^scripts\/build-native\.sh$/, /^src\/encrypt\/pf\/native\/pf_native\.c$/, /^package\.json$/, /^README\.md$/, /^LICENSE$/];
  t.deepEqual(paths.filter((p) => !allowed.some((re) => re.test(p))), [], 'nothing outside the allowed paths');
  for (const dir of ['test/', 'bench/', 'fixtures/', 'docs/', 'build/', 'node_modules/']) t.false(paths.some((p) => p.startsWith(dir)), dir);
  t.false(paths.some((p) => p.endsWith('.ts')), 'no TypeScript');

  for (const p of ['bin/cconv.js', 'dist/cli/main.js', 'dist/cli/usage/index.js', 'dist/cli/commands/build.js', 'dist/index.js', 'dist/encrypt/pf/native.js',
    'runtimes/gramine/1.9.json', 'runtimes/gramine/manifest.template.toml', 'policies/default.json', 'scripts/build-native.sh', 'src/encrypt/pf/native/pf_native.c', 'package.json', 'README.md']) {
    t.true(paths.includes(p), p);
  }
  t.is(entry!.files.find((f) => f.path === 'bin/cconv.js')!.mode & 0o111, 0o111, 'bin/cconv.js is executable');
});
