/**
 * The stand-in gramine-sgx loader (fixtures/runtime/gramine_sgx_standin.c): its C port of the
 * MRENCLAVE algorithm gives Gramine's golden vectors (read at run time from test/vectors) and
 * the same value as cconv's TypeScript measurement of a cconv-made manifest; its TOML reader fails
 * loudly on what cconv never writes; it builds to the same bytes from any directory and is the
 * binary the gramine-runtime fixture ships. Needs gcc and libc6-dev (libc.a); no SGX, no docker.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureFixtures } from '../../fixtures/build.ts';
import { fetchDeb } from '../../fixtures/debs.ts';
import { compileLoader, protobufLibDir } from '../../fixtures/runtime/loader.ts';
import { STANDIN_SOURCE_DIR } from '../../fixtures/runtime/standin.ts';
import { loadRuntimeDir, measureImage } from '../../src/pipeline/index.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { openSource } from '../../src/transports/index.ts';
import { VECTORS, vecJson } from '../helpers/measure-vectors.ts';

let work: string;
let loader: string;
let loaderBytes: Buffer;
const LIBPAL = join(VECTORS, 'inputs/libpal-standin/libpal.so');

test.before(async () => {
  work = await mkdtemp('/tmp/cconv-standin-loader-');
  loaderBytes = compileLoader();
  loader = join(work, 'gramine-sgx');
  writeFileSync(loader, loaderBytes);
  chmodSync(loader, 0o755);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs the loader (libprotobuf-c.so.1 from the unpacked package); resolves with its exit status, stdout and stderr. */
function runLoader(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(loader, args, { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: protobufLibDir() } }, (err, stdout, stderr) => {
      resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
  });
}

/** Writes `text` as a manifest file and runs `--measure` on it with the vectors' libpal. */
async function measureText(name: string, text: string | Buffer, libpal = LIBPAL) {
  const path = join(work, name);
  writeFileSync(path, text);
  return runLoader(['--measure', path, libpal]);
}

const MINIMAL = '[sgx]\nenclave_size = "256M"\nmax_threads = 4\nedmm_enable = false\n';

test('--measure gives the MRENCLAVE of every golden signing vector', async (t) => {
  const index = vecJson<{ cases: Array<{ case: string; dir: string; mrenclave: string }> }>('sgx-sign/index.json');
  t.is(index.cases.length, readdirSync(join(VECTORS, 'sgx-sign'), { withFileTypes: true }).filter((d) => d.isDirectory()).length);
  for (const c of index.cases) {
    const r = await runLoader(['--measure', join(VECTORS, 'sgx-sign', c.dir, 'app.manifest.sgx'), LIBPAL]);
    t.deepEqual(r, { status: 0, stdout: `${c.mrenclave}\n`, stderr: '' }, c.case);
  }
});

test('--measure agrees with cconv measureImage on a cconv-made manifest (1G, 32 threads) and the fixture libpal', async (t) => {
  const fixtures = await ensureFixtures();
  const runtimeDir = fixtures.get('gramine-runtime').dir!;
  const runtime = await loadRuntimeDir(runtimeDir);
  const image = await openSource({ transport: 'oci', dir: fixtures.get('app-glibc').paths.oci! }).open();
  try {
    const measured = await measureImage(image, { runtime });
    const r = await measureText('app-glibc.manifest.sgx', measured.manifestSgx, join(runtimeDir, 'sgx/libpal.so'));
    t.deepEqual(r, { status: 0, stdout: `${measured.identity.mrenclave}\n`, stderr: '' });
    // One more space in the manifest is another enclave.
    const changed = await measureText('changed.manifest.sgx', Buffer.concat([measured.manifestSgx, Buffer.from(' ')]), join(runtimeDir, 'sgx/libpal.so'));
    t.is(changed.status, 0);
    t.not(changed.stdout, r.stdout);
  } finally {
    await image.close();
  }
});

test('sizes are read as Gramine reads them (vector f covers "0x40000K"); bad or unfit sizes fail loudly', async (t) => {
  for (const size of ['256M', '0x10000K', '268_435_456', '0o1000000K', '0b1G']) {
    const r = await measureText('ok-size.toml', MINIMAL.replace('"256M"', `"${size}"`));
    t.is(r.status, 0, size);
    t.regex(r.stdout, /^[0-9a-f]{64}\n$/);
  }
  const fails: Array<[string, string]> = [
    ['0_256M', 'manifest: sgx.enclave_size = "0_256M" is not a valid size'],
    ['256m', 'manifest: sgx.enclave_size = "256m" is not a valid size'],
    ['1__0M', 'manifest: sgx.enclave_size = "1__0M" is not a valid size'],
    ['3M', 'measuring the enclave: sgx.enclave_size must be a power of two'],
    ['1M', 'measuring the enclave: enclave size 1048576 is not large enough for 4 threads and the PAL'],
  ];
  for (const [size, message] of fails) {
    t.deepEqual(await measureText('bad-size.toml', MINIMAL.replace('"256M"', `"${size}"`)), {
      status: 1, stdout: '', stderr: `gramine-sgx (cconv stand-in): error: ${message}\n`,
    }, size);
  }
});

test('the TOML reader accepts what cconv writes and fails loudly, with a line number, on anything else', async (t) => {
  const ok = `# comment\n[loader]\nargv = [\n    "a\\tb\\u00e9\\\\",\n    "x", # trailing comma next\n]\nentrypoint.uri = "file:/x"\n\n[[fs.mounts]]\npath = "/"\n\n[[fs.mounts]]\npath = "/tmp"\n\n[sgx]\nenclave_size = "256M"\nmax_threads = 4\nedmm_enable = false\ntrusted_files = [\n    { uri = "file:/a", sha256 = "00" },\n]\n"quoted key" = -12\n`;
  t.is((await measureText('ok.toml', ok)).status, 0);
  const cases: Array<[string, string]> = [
    [`${MINIMAL}x = 1.5\n`, 'line 5: only decimal integers are supported (no floats, dates, \'_\' or prefixes): 1.'],
    [`${MINIMAL}x = 'lit'\n`, 'line 5: literal strings are not supported'],
    [`${MINIMAL}x = """a"""\n`, 'line 5: multi-line strings are not supported'],
    [`${MINIMAL}max_threads = 8\n`, 'line 5: duplicate key "max_threads"'],
    [`${MINIMAL}[sgx]\n`, 'line 5: table [sgx] is defined twice'],
    [`${MINIMAL}x = [1, 2\n`, "line 6: expected ',' or ']' in an array"],
    [`${MINIMAL}x = [1,\n`, 'line 6: expected a value'],
    [`${MINIMAL}x = "a\\qb"\n`, 'line 5: bad escape \\q'],
    [`${MINIMAL}x = 1 y\n`, "line 5: unexpected 'y' at the end of a line"],
    [`${MINIMAL}x = 0x10\n`, "line 5: only decimal integers are supported (no floats, dates, '_' or prefixes): 0x"],
    [`${MINIMAL}x = 1979-05-27\n`, "line 5: only decimal integers are supported (no floats, dates, '_' or prefixes): 1979-"],
  ];
  for (const [text, message] of cases) {
    t.deepEqual(await measureText('bad.toml', text), { status: 1, stdout: '', stderr: `gramine-sgx (cconv stand-in): error: ${join(work, 'bad.toml')}: ${message}\n` }, message);
  }
});

test('--measure fails with a clear message on a missing setting, a non-ELF libpal and bad usage', async (t) => {
  t.deepEqual(await measureText('nothreads.toml', '[sgx]\nenclave_size = "256M"\n'), {
    status: 1, stdout: '', stderr: 'gramine-sgx (cconv stand-in): error: manifest: sgx.max_threads and sgx.edmm_enable must be set (is this a .manifest.sgx?)\n',
  });
  const notElf = join(work, 'not-elf.so');
  writeFileSync(notElf, 'not an ELF file\n');
  t.deepEqual(await measureText('m.toml', MINIMAL, notElf), { status: 1, stdout: '', stderr: 'gramine-sgx (cconv stand-in): error: measuring the enclave: libpal: no ELF magic\n' });
  const usage = await runLoader([]);
  t.is(usage.status, 2);
  t.regex(usage.stderr, /^usage: loader LIBPAL init APP \[ARGS\.\.\.\]/);
  t.is((await runLoader(['--measure', 'only-one'])).status, 2);
});

test('Gramine\'s loader command line: LIBPAL init APP [ARGS...]; anything else is a usage error; LIBPAL is the one given', async (t) => {
  for (const args of [[LIBPAL], [LIBPAL, 'init'], [LIBPAL, 'run', 'app'], ['app'], ['-x', 'init', 'app'], [LIBPAL, 'init', ''], ['--version', 'extra']]) {
    const r = await runLoader(args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, /^usage: loader LIBPAL init APP/, args.join(' '));
  }
  const missing = join(work, 'no-such-libpal.so');
  t.deepEqual(await runLoader([missing, 'init', join(work, 'app')]), {
    status: 1, stdout: '', stderr: `gramine-sgx (cconv stand-in): error: cannot read the PAL ${missing}: No such file or directory\n`,
  });
  // The PAL given is the one measured: a manifest signed for nothing fails on the .sig, after reading LIBPAL.
  writeFileSync(join(work, 'app.manifest.sgx'), MINIMAL);
  t.deepEqual(await runLoader([LIBPAL, 'init', join(work, 'app')]), {
    status: 1, stdout: '', stderr: `gramine-sgx (cconv stand-in): error: cannot open ${join(work, 'app.sig')}: No such file or directory\n`,
  });
  writeFileSync(join(work, 'app.sig'), Buffer.alloc(1808));
  t.deepEqual(await runLoader([LIBPAL, 'init', join(work, 'app')]), {
    status: 1, stdout: '', stderr: `gramine-sgx (cconv stand-in): error: ${join(work, 'app.sig')}: not a SIGSTRUCT (bad HEADER/HEADER2)\n`,
  });
});

test('--version names the Gramine version and asks libprotobuf-c.so.1 for its own', async (t) => {
  const upstream = /^(?:\d+:)?([^-]+)/.exec(fetchDeb('libprotobuf-c1').version)![1]!;
  t.deepEqual(await runLoader(['--version']), { status: 0, stdout: `cconv stand-in for the Gramine 1.9 SGX loader (libprotobuf-c ${upstream})\n`, stderr: '' });
});

test('the loader builds to the same bytes from another directory, and is the gramine-runtime fixture\'s sgx/loader', async (t) => {
  const copy = join(work, 'another', 'source-dir');
  mkdirSync(copy, { recursive: true });
  for (const f of readdirSync(STANDIN_SOURCE_DIR).filter((n) => /\.[ch]$/.test(n))) copyFileSync(join(STANDIN_SOURCE_DIR, f), join(copy, f));
  const again = compileLoader({ sourceDir: copy });
  t.true(again.equals(loaderBytes));
  t.false(again.includes(work), 'no build path in the executable');
  t.is(again.readUInt16LE(16), 3, 'ET_DYN');
  const image = await openSource({ transport: 'oci', dir: (await ensureFixtures()).get('gramine-runtime').paths.oci! }).open();
  try {
    const entry = (await flatten(image, { hash: true })).resolve('usr/lib/x86_64-linux-gnu/gramine/sgx/loader');
    t.is(entry?.mode, 0o755);
    t.is(entry?.sha256, createHash('sha256').update(loaderBytes).digest('hex'));
  } finally {
    await image.close();
  }
});

test('readelf: the loader is a PIE with interpreter /lib64/ld-linux-x86-64.so.2 that needs libprotobuf-c.so.1 and libc.so.6, as Gramine\'s is', (t) => {
  const readelf = (flag: string): string => execFileSync('readelf', [flag, '-W', loader], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  t.regex(readelf('-h'), /^\s*Type:\s+DYN \(Position-Independent Executable file\)$/m);
  t.regex(readelf('-l'), /\[Requesting program interpreter: \/lib64\/ld-linux-x86-64\.so\.2\]/);
  const dynamic = readelf('-d');
  t.deepEqual([...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]), ['libprotobuf-c.so.1', 'libc.so.6']);
  t.regex(dynamic, /\(FLAGS_1\)\s+Flags: .*PIE/);
  t.notRegex(dynamic, /\((RPATH|RUNPATH)\)/, 'no path of the build machine');
});
