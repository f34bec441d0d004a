/**
 * The gramine-runtime fixtures: stand-ins compiled from fixtures/runtime/*.c give the same bytes
 * from any directory and in every build, libpal has the PT_LOAD shape the measurement needs (our
 * parser agrees with binutils' readelf), MRENCLAVE over it is stable, and the image has Gramine's
 * installed shape on a merged-/usr Debian base: the gramine-sgx bash script, pkglibdir with the
 * loader, runtime/glibc/ links that leave pkglibdir, the Python package's version. Needs gcc and
 * readelf (binutils); the Debian packages are downloaded once (fixtures/debs.ts).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFixture, ensureFixtures, type FixtureInfo } from '../../fixtures/build.ts';
import { gramineRuntimeFixture, RUNTIME_LABELS } from '../../fixtures/runtime/fixture.ts';
import { compileLoader } from '../../fixtures/runtime/loader.ts';
import { compileStandins, gccVersion, STANDIN_SOURCE_DIR } from '../../fixtures/runtime/standin.ts';
import { completeManifest, computeMrenclave, loadGramineConstants, parsePalElf } from '../../src/measure/index.ts';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/types.ts';
import { openSource } from '../../src/transports/index.ts';
import type { ImageReference } from '../../src/transports/types.ts';

const PKGLIBDIR = '/usr/lib/x86_64-linux-gnu/gramine';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let cached: FixtureInfo;
let work: string;

test.before(async () => {
  cached = (await ensureFixtures()).get('gramine-runtime');
  work = await mkdtemp('/tmp/cconv-fixtures-runtime-');
});
test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every file and dir below `dir` with its mode and content sha256, by relative path. */
function tree(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = statSync(join(dir, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) Object.assign(out, { [`${p}/`]: mode }, tree(dir, p));
    else out[p] = `${mode} ${sha(readFileSync(join(dir, p)))}`;
  }
  return out;
}

/**
 * The root filesystem of one image form of a built fixture, with file hashes. `readFile` works
 * afterwards for OCI layouts only (they hold nothing open; archives remove their spool on close).
 */
async function rootfsOf(ref: ImageReference): Promise<{ rootfs: Rootfs; labels: Record<string, string> | undefined }> {
  const image = await openSource(ref).open();
  try {
    return { rootfs: await flatten(image, { hash: true }), labels: image.config.config?.Labels ?? undefined };
  } finally {
    await image.close();
  }
}

/** A small manifest that trusts the runtime's glibc dir (expanded by the signer in the image root). */
const MANIFEST = `[libos]
entrypoint = "/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/ld-linux-x86-64.so.2"

[loader]
entrypoint.uri = "file:${PKGLIBDIR}/libsysdb.so"

[sgx]
enclave_size = "256M"
max_threads = 4
trusted_files = ["file:${PKGLIBDIR}/runtime/glibc/"]
`;

/** Completes MANIFEST over the fixture's OCI image and measures it with the fixture's libpal. */
async function measure(info: FixtureInfo, libpal = readFileSync(join(info.dir!, 'sgx/libpal.so'))) {
  const constants = await loadGramineConstants('1.9');
  const { rootfs } = await rootfsOf({ transport: 'oci', dir: info.paths.oci! });
  const done = await completeManifest(MANIFEST, { constants, libos: readFileSync(join(info.dir!, 'libsysdb.so')), rootfs });
  const r = await computeMrenclave({ manifestSgx: done.bytes, libpal, constants });
  return { done, mrenclave: r.mrenclave };
}

test('the stand-ins compile to the same bytes from any source directory', (t) => {
  const dirs = [join(work, 'src-a'), join(work, 'a-much-longer-source-directory', 'nested')];
  const builds = dirs.map((d) => {
    mkdirSync(d, { recursive: true });
    for (const f of ['libpal_standin.c', 'libsysdb_standin.c']) copyFileSync(join(STANDIN_SOURCE_DIR, f), join(d, f));
    return compileStandins({ sourceDir: d });
  });
  t.true(builds[0]!.libpal.equals(builds[1]!.libpal));
  t.true(builds[0]!.libsysdb.equals(builds[1]!.libsysdb));
  t.true(builds[0]!.libpal.equals(readFileSync(join(cached.dir!, 'sgx/libpal.so'))));
  t.true(builds[0]!.libsysdb.equals(readFileSync(join(cached.dir!, 'libsysdb.so'))));
  t.false(builds[0]!.libpal.includes(work), 'no build path in the ELF');
});

test('the fixture builds twice to identical bytes, equal to the cached build', (t) => {
  const a = buildFixture(gramineRuntimeFixture, join(work, 'build-a'));
  const b = buildFixture(gramineRuntimeFixture, join(work, 'build-b'));
  const treeA = tree(join(work, 'build-a'));
  t.deepEqual(tree(join(work, 'build-b')), treeA);
  t.is(a.ociDigest, b.ociDigest);
  t.is(a.ociDigest, cached.ociDigest);
  t.deepEqual(tree(cached.dir!), tree(a.dir!));
  // pkglibdir as a plain dir: regular files only, the links out of it written with their targets' content.
  t.deepEqual(Object.keys(tree(a.dir!)), [
    'libsysdb.so', 'runtime/', 'runtime/glibc/', 'runtime/glibc/ld-linux-x86-64.so.2', 'runtime/glibc/libc.so.6',
    'runtime/glibc/libdl.so.2', 'runtime/glibc/libm.so.6', 'runtime/glibc/libmbedcrypto_gramine.so.16', 'runtime/glibc/libpthread.so.0',
    'runtime/glibc/libra_tls_attest.so', 'runtime/glibc/libsecret_prov_attest.so', 'sgx/', 'sgx/libpal.so', 'sgx/loader',
  ]);
});

test('libpal: parsePalElf reads R, R+X, R, RW PT_LOADs and the entry symbol, as readelf does', (t) => {
  const path = join(cached.dir!, 'sgx/libpal.so');
  const elf = parsePalElf(readFileSync(path));
  t.deepEqual(elf.segments.map((s) => s.flags), [4, 5, 4, 6]); // PF_R=4, PF_X=1, PF_W=2
  const rw = elf.segments[3]!;
  t.true(rw.memsz > rw.filesz, 'RW segment has .bss past its file image');
  t.true(rw.memsz - rw.filesz >= 4 * 4096, '.bss spans several pages');
  const text = elf.segments[1]!;
  t.true(elf.entry >= text.vaddr && elf.entry < text.vaddr + text.memsz, 'entry is in the code segment');

  const flagBits: Record<string, number> = { R: 4, W: 2, E: 1 };
  const readelf = execFileSync('readelf', ['-lW', path], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })
    .split('\n')
    .filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => {
      const m = /^\s*LOAD\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)\s+([RWE ]+?)\s+0x/.exec(l)!;
      const flags = [...m[5]!.replace(/ /g, '')].reduce((acc, c) => acc | flagBits[c]!, 0);
      return { offset: Number(m[1]), vaddr: Number(m[2]), filesz: Number(m[3]), memsz: Number(m[4]), flags };
    });
  t.deepEqual(elf.segments, readelf);
  const symbols = execFileSync('readelf', ['-sW', path], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  const entrySym = /^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+standin_pal_entry$/m.exec(symbols);
  t.is(elf.entry, parseInt(entrySym![1]!, 16));
});

test('MRENCLAVE over a simple manifest is 64 hex digits, the same for two builds, and covers libpal', async (t) => {
  const a = buildFixture(gramineRuntimeFixture, join(work, 'measure-a'));
  const b = buildFixture(gramineRuntimeFixture, join(work, 'measure-b'));
  const ma = await measure(a);
  const mb = await measure(b);
  t.regex(ma.mrenclave, /^[0-9a-f]{64}$/);
  t.is(mb.mrenclave, ma.mrenclave);
  t.true(mb.done.bytes.equals(ma.done.bytes));
  // The signer hashed the stand-in LibOS and expanded the glibc dir inside the image root.
  const loader = ma.done.manifest.loader as { entrypoint: { uri: string; sha256: string } };
  t.deepEqual(loader.entrypoint, { uri: `file:${PKGLIBDIR}/libsysdb.so`, sha256: sha(readFileSync(join(a.dir!, 'libsysdb.so'))) });
  const glibc = join(a.dir!, 'runtime/glibc');
  t.deepEqual(
    ma.done.trustedFiles,
    readdirSync(glibc).sort().map((n) => ({ uri: `file:${PKGLIBDIR}/runtime/glibc/${n}`, sha256: sha(readFileSync(join(glibc, n))) })),
  );
  // One flipped byte of libpal's initialised data changes the measurement.
  const pal = Buffer.from(readFileSync(join(a.dir!, 'sgx/libpal.so')));
  const rw = parsePalElf(pal).segments[3]!;
  pal[rw.offset + rw.filesz - 1]! ^= 0x01;
  t.not((await measure(a, pal)).mrenclave, ma.mrenclave);
});

/** Entries of a flattened image by path without the leading '/': "mode sha256", "mode" for dirs, "-> target" for links. */
function listing(rootfs: Rootfs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of rootfs.entries()) {
    const p = e.path.replace(/^\//, '');
    out[p] = e.type === 'dir' ? e.mode.toString(8) : e.type === 'symlink' ? `-> ${e.linkTarget}` : `${e.mode.toString(8)} ${e.sha256}`;
  }
  return out;
}

const IMAGE_FORMS = (info: FixtureInfo): ImageReference[] => [
  { transport: 'oci', dir: info.paths.oci! },
  { transport: 'docker-archive', file: info.paths['docker-archive']! },
  { transport: 'docker-archive', file: info.paths['docker-archive-oci']! },
];

test('every image form: merged /usr, bash + glibc + libprotobuf-c from Debian, the runtime under pkglibdir, labels', async (t) => {
  const loader = compileLoader();
  const pkglibdir = PKGLIBDIR.slice(1);
  const debs = (await ensureFixtures()).get('gramine-runtime').debs;
  t.deepEqual(debs?.map((d) => d.package), ['bash', 'libc6', 'libprotobuf-c1', 'libtinfo6']);
  for (const d of debs!) t.regex(`${d.version} ${d.sha256}`, /^\S+ [0-9a-f]{64}$/, d.package);
  let first: Record<string, string> | undefined;
  for (const ref of IMAGE_FORMS(cached)) {
    const { rootfs, labels } = await rootfsOf(ref);
    t.deepEqual(labels, { ...RUNTIME_LABELS });
    for (const e of rootfs.entries()) t.deepEqual([e.uid, e.gid], [0, 0], e.path);
    const seen = listing(rootfs);
    if (first === undefined) first = seen;
    t.deepEqual(seen, first, 'the three forms hold the same tree');
    // Merged /usr, as Debian 12 and Ubuntu have it.
    t.like(seen, { bin: '-> usr/bin', lib: '-> usr/lib', lib64: '-> usr/lib64', sbin: '-> usr/sbin', 'usr/bin': '755', 'usr/sbin': '755' });
    t.like(seen, {
      'usr/lib64/ld-linux-x86-64.so.2': '-> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      'usr/lib/x86_64-linux-gnu/libprotobuf-c.so.1': '-> libprotobuf-c.so.1.0.0',
      'usr/lib/x86_64-linux-gnu/libtinfo.so.6': '-> libtinfo.so.6.4',
    });
    for (const p of ['usr/bin/bash', 'usr/lib/x86_64-linux-gnu/libc.so.6', 'lib64/ld-linux-x86-64.so.2', 'lib/x86_64-linux-gnu/libprotobuf-c.so.1', 'bin/bash']) {
      t.is(rootfs.resolve(p)?.type, 'file', p);
    }
    t.is(rootfs.resolve('etc/ld.so.conf')?.size, 'include /etc/ld.so.conf.d/*.conf\n'.length);
    t.is(rootfs.resolve('etc/ld.so.conf.d/x86_64-linux-gnu.conf')?.type, 'file');
    t.deepEqual(Object.keys(seen).filter((p) => /^(lib|bin|sbin|lib64)\/|usr\/share|gconv|locale/.test(p)), [], 'nothing outside the merged /usr, no /usr/share');
    t.true(rootfs.totals.bytes < 8 << 20, `the image is small: ${rootfs.totals.bytes} bytes`);
    // The stand-in Gramine: pkglibdir as the dir form has it, except that three runtime/glibc files are links out of pkglibdir.
    const expected: Record<string, string> = { [pkglibdir]: '755' };
    for (const [p, v] of Object.entries(tree(cached.dir!))) expected[`${pkglibdir}/${p.replace(/\/$/, '')}`] = v;
    const links = { 'libmbedcrypto_gramine.so.16': 'libmbedcrypto_gramine.so.3.6.0', 'libra_tls_attest.so': undefined, 'libsecret_prov_attest.so': undefined };
    for (const [name, chained] of Object.entries(links)) {
      const at = `${pkglibdir}/runtime/glibc/${name}`;
      expected[at] = `-> ../../../${name}`;
      const outside = rootfs.resolve(at);
      t.is(outside?.path.replace(/^\//, ''), `usr/lib/x86_64-linux-gnu/${chained ?? name}`, `${name} resolves outside pkglibdir`);
      t.is(`${outside?.mode.toString(8)} ${outside?.sha256}`, tree(cached.dir!)[`runtime/glibc/${name}`] ?? '(absent from the dir form)');
      if (chained) t.is(seen[`usr/lib/x86_64-linux-gnu/${name}`], `-> ${chained}`);
    }
    t.is(expected[`${pkglibdir}/sgx/loader`], `755 ${sha(loader)}`);
    t.deepEqual(Object.fromEntries(Object.entries(seen).filter(([p]) => p === pkglibdir || p.startsWith(`${pkglibdir}/`))), expected);
  }
});

test('the gramine-sgx script and the Python package say 1.9; gramine-runtime-1.8 differs in exactly those two files', async (t) => {
  const { rootfs } = await rootfsOf({ transport: 'oci', dir: cached.paths.oci! });
  const script = (await rootfs.readFile('/usr/bin/gramine-sgx', 1 << 16))!.toString('utf8');
  t.is(rootfs.resolve('usr/bin/gramine-sgx')?.mode, 0o755);
  t.true(script.startsWith('#!/bin/bash\n'));
  t.regex(script, /^\s*echo "Gramine 1\.9 \(cconv stand-in\)"$/m);
  t.regex(script, new RegExp(`^PKGLIBDIR='${PKGLIBDIR}'$`, 'm'));
  t.regex(script, /^PAL_CMD="\$PKGLIBDIR\/sgx\/loader"$/m);
  t.regex(script, /^LIBPAL_PATH="\$PKGLIBDIR\/sgx\/libpal\.so"$/m);
  t.regex(script, /^exec "\$PAL_CMD" "\$LIBPAL_PATH" init "\$APP" "\$@"$/m);
  const python = (await rootfs.readFile('/usr/lib/python3/dist-packages/graminelibos/__init__.py', 4096))!.toString('utf8');
  t.regex(python, /^__version__ = '1\.9'$/m);

  const old = await rootfsOf({ transport: 'oci', dir: (await ensureFixtures()).get('gramine-runtime-1.8').paths.oci! });
  t.deepEqual(old.labels, { ...RUNTIME_LABELS });
  const [a, b] = [listing(rootfs), listing(old.rootfs)];
  const differ = Object.keys({ ...a, ...b }).filter((p) => a[p] !== b[p]);
  t.deepEqual(differ, ['usr/bin/gramine-sgx', 'usr/lib/python3/dist-packages/graminelibos/__init__.py']);
  const oldScript = (await old.rootfs.readFile('/usr/bin/gramine-sgx', 1 << 16))!.toString('utf8');
  t.is(oldScript, script.replace('Gramine 1.9 (cconv stand-in)', 'Gramine 1.8 (cconv stand-in)'));
  const oldPython = (await old.rootfs.readFile('/usr/lib/python3/dist-packages/graminelibos/__init__.py', 4096))!.toString('utf8');
  t.is(oldPython, python.replace("'1.9'", "'1.8'"));
});

test('a missing gcc fails with a message that says what to install', (t) => {
  const missing = /\/nonexistent\/gcc was not found: the gramine-runtime fixture compiles .* Install gcc and libc6-dev \(scripts\/install-deps\.sh/;
  t.throws(() => compileStandins({ gcc: '/nonexistent/gcc' }), { message: missing });
  t.throws(() => gccVersion('/nonexistent/gcc'), { message: missing });
  t.regex(gccVersion(), /^gcc /);
});
