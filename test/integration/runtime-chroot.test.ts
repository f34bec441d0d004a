/**
 * The gramine-runtime fixture run the real way on this host, without docker: its layer unpacked
 * into a directory and entered with `chroot` (needs root). What the image holds (bash, glibc and
 * libprotobuf-c from Debian's packages) is enough to start the gramine-sgx script and the loader;
 * without libprotobuf-c.so.1 the loader cannot start, which is how Gramine's loader fails in an
 * image that lacks its libraries; the script hands over to `loader LIBPAL init APP ARGS...`; and
 * a converted app-static (cconv's measureImage and signMeasured) runs through script and loader
 * with the runtime/glibc trusted files reached through their links out of pkglibdir.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureFixtures, type FixtureInfo, type FixtureSet } from '../../fixtures/build.ts';
import { fetchDeb } from '../../fixtures/debs.ts';
import { generateSigningKey, pemFileSigner } from '../../src/enclave/index.ts';
import { loadRuntimeDir, measureImage, signMeasured } from '../../src/pipeline/index.ts';
import { openSource } from '../../src/transports/index.ts';

const PKGLIBDIR = '/usr/lib/x86_64-linux-gnu/gramine';
const LOADER = `${PKGLIBDIR}/sgx/loader`;

let fixtures: FixtureSet;
let work: string;
/** The runtime image unpacked. Tests that change it work on a copy. */
let root: string;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` with only PATH in the environment; resolves with the exit status and output. */
function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, stdout, stderr) => {
      resolve({ status: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
    });
  });
}

/** `chroot dir cmd args...` (we are root). */
const chroot = (dir: string, cmd: string, ...args: string[]): Promise<Run> => run('chroot', [dir, cmd, ...args]);

/** Unpacks every layer of a fixture's OCI layout into `dir`, in order, with GNU tar (no whiteouts in these fixtures). */
async function unpack(info: FixtureInfo, dir: string): Promise<void> {
  const blob = (digest: string): string => join(info.paths.oci!, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(join(info.paths.oci!, 'index.json'), 'utf8'));
  const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8'));
  await mkdir(dir, { recursive: true });
  for (const layer of manifest.layers as Array<{ digest: string }>) {
    const r = await run('tar', ['-xzf', blob(layer.digest), '-C', dir, '--numeric-owner']);
    if (r.status !== 0) throw new Error(`tar -x ${layer.digest}: ${r.stderr}`);
  }
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('runtime-chroot.test.ts needs root (chroot)');
  fixtures = await ensureFixtures();
  work = await mkdtemp('/tmp/cconv-runtime-chroot-');
  root = join(work, 'runtime');
  await unpack(fixtures.get('gramine-runtime'), root);
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('bash, glibc and libprotobuf-c in the image start the gramine-sgx script and the loader', async (t) => {
  t.deepEqual(await chroot(root, '/usr/bin/gramine-sgx', '--version'), { status: 0, stdout: 'Gramine 1.9 (cconv stand-in)\n', stderr: '' });
  const protobuf = /^(?:\d+:)?([^-]+)/.exec(fetchDeb('libprotobuf-c1').version)![1]!;
  t.deepEqual(await chroot(root, LOADER, '--version'), { status: 0, stdout: `cconv stand-in for the Gramine 1.9 SGX loader (libprotobuf-c ${protobuf})\n`, stderr: '' });
  // Through the merged /usr links, as a shell would find them.
  t.is((await chroot(root, '/bin/bash', '-c', 'exec /lib64/ld-linux-x86-64.so.2 --list /usr/lib/x86_64-linux-gnu/gramine/sgx/loader')).status, 0);
});

test('without libprotobuf-c.so.1 the loader cannot start (Gramine\'s failure mode in an image without its libraries)', async (t) => {
  const bare = join(work, 'no-protobuf');
  await cp(root, bare, { recursive: true, verbatimSymlinks: true });
  await unlink(join(bare, 'usr/lib/x86_64-linux-gnu/libprotobuf-c.so.1'));
  const r = await chroot(bare, LOADER, '--version');
  t.not(r.status, 0);
  t.is(r.stdout, '');
  t.regex(r.stderr, /libprotobuf-c\.so\.1: cannot open shared object file/);
  // The script starts (bash needs no protobuf) and fails where it execs the loader.
  await mkdir(join(bare, 'cconv'));
  await writeFile(join(bare, 'cconv/app.manifest.sgx'), '');
  const viaScript = await chroot(bare, '/usr/bin/gramine-sgx', '/cconv/app');
  t.not(viaScript.status, 0);
  t.regex(viaScript.stderr, /libprotobuf-c\.so\.1/);
});

test('the script: usage error without APP, refuses an APP without APP.manifest.sgx, else execs loader LIBPAL init APP ARGS', async (t) => {
  const usage = await chroot(root, '/usr/bin/gramine-sgx');
  t.is(usage.status, 2);
  t.regex(usage.stderr, /^usage: gramine-sgx APP \[ARGS\.\.\.\]/);
  t.deepEqual(await chroot(root, '/usr/bin/gramine-sgx', '/nowhere/app', 'x'), {
    status: 2, stdout: '', stderr: 'gramine-sgx (cconv stand-in): error: there is no signed manifest /nowhere/app.manifest.sgx\n',
  });
  const dir = join(work, 'script-exec');
  await cp(root, dir, { recursive: true, verbatimSymlinks: true });
  await mkdir(join(dir, 'cconv'));
  await writeFile(join(dir, 'cconv/app.manifest.sgx'), '[sgx]\nenclave_size = "256M"\nmax_threads = 4\nedmm_enable = false\n');
  // The loader got LIBPAL (it exists, so no PAL error), `init` and APP: it reads APP.sig next.
  t.deepEqual(await chroot(dir, '/usr/bin/gramine-sgx', '/cconv/app', 'a', 'b'), {
    status: 1, stdout: '', stderr: 'gramine-sgx (cconv stand-in): error: cannot open /cconv/app.sig: No such file or directory\n',
  });
});

test('a converted app-static runs through gramine-sgx and the loader, checked against its .sig and trusted files', async (t) => {
  const dir = join(work, 'converted');
  await cp(root, dir, { recursive: true, verbatimSymlinks: true });
  const info = fixtures.get('app-static');
  await unpack(info, dir);
  const image = await openSource({ transport: 'oci', dir: info.paths.oci! }).open();
  try {
    const measured = await measureImage(image, { runtime: await loadRuntimeDir(fixtures.get('gramine-runtime').dir!) });
    const key = await generateSigningKey(join(work, 'key.pem'));
    const { sigstruct } = await signMeasured(measured, { signer: await pemFileSigner(key.path), date: { year: 2026, month: 1, day: 1 } });
    const argv = measured.rendered.argvFile!;
    await mkdir(join(dir, 'cconv'), { recursive: true });
    await writeFile(join(dir, 'cconv/app.manifest.sgx'), measured.manifestSgx);
    await writeFile(join(dir, 'cconv/app.sig'), sigstruct);
    await writeFile(join(dir, argv.path), argv.content);
    // runtime/glibc/ files are trusted; three of them are links out of pkglibdir, hashed through the link.
    t.true(measured.trustedFiles.some((f) => f.uri === `file:${PKGLIBDIR}/runtime/glibc/libmbedcrypto_gramine.so.16`));
  } finally {
    await image.close();
  }
  const r = await chroot(dir, '/usr/bin/gramine-sgx', '/cconv/app');
  t.deepEqual(r, {
    status: 0,
    stderr: '',
    stdout: [
      'libc: musl', 'argc: 3', 'argv[0]: /app/bin/show', 'argv[1]: --greet', 'argv[2]: world',
      'env PATH: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'env HOME: /app', 'env GREETING: hi',
      'env APP_MODE: static-fixture', 'env LANG: (unset)', 'cwd: /app', 'ids: uid=1000 gid=1000 euid=1000 egid=1000',
      'data: hello from the static fixture', '',
    ].join('\n'),
  });
  // A flipped byte in a trusted file outside pkglibdir, reached through runtime/glibc's link: refused.
  await writeFile(join(dir, 'usr/lib/x86_64-linux-gnu/libra_tls_attest.so'), 'tampered\n');
  const tampered = await chroot(dir, '/usr/bin/gramine-sgx', '/cconv/app');
  t.is(tampered.status, 1);
  t.regex(tampered.stderr, /^gramine-sgx \(cconv stand-in\): error: trusted file file:\/usr\/lib\/x86_64-linux-gnu\/gramine\/runtime\/glibc\/libra_tls_attest\.so has sha256 [0-9a-f]{64}, the manifest expects [0-9a-f]{64}\n$/);
});
