/**
 * The gramine-runtime fixture: stand-ins compiled from fixtures/runtime/*.c give the same bytes
 * from any directory and in every build, libpal has the PT_LOAD shape the measurement needs (our
 * parser agrees with binutils' readelf), MRENCLAVE over it is stable, and the image carries the
 * runtime under Gramine's pkglibdir. Needs gcc and readelf (binutils); no network.
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

/** The root filesystem of one image form of a built fixture, with file hashes. */
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
  t.deepEqual(Object.keys(tree(a.dir!)), [
    'libsysdb.so', 'runtime/', 'runtime/glibc/', 'runtime/glibc/ld-linux-x86-64.so.2', 'runtime/glibc/libc.so.6',
    'runtime/glibc/libdl.so.2', 'runtime/glibc/libm.so.6', 'runtime/glibc/libpthread.so.0', 'runtime/glibc/libsecret_prov_attest.so', 'sgx/', 'sgx/libpal.so',
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

test('every image form holds the runtime under pkglibdir, /usr/bin/gramine-sgx and the runtime labels', async (t) => {
  const loader = compileLoader();
  const expected: Record<string, string> = { 'usr/bin/gramine-sgx': `755 ${sha(loader)}` };
  for (const [p, v] of Object.entries(tree(cached.dir!))) expected[`${PKGLIBDIR.slice(1)}/${p.replace(/\/$/, '')}`] = v;
  const refs: ImageReference[] = [
    { transport: 'oci', dir: cached.paths.oci! },
    { transport: 'docker-archive', file: cached.paths['docker-archive']! },
    { transport: 'docker-archive', file: cached.paths['docker-archive-oci']! },
  ];
  for (const ref of refs) {
    const { rootfs, labels } = await rootfsOf(ref);
    t.deepEqual(labels, { ...RUNTIME_LABELS });
    const seen: Record<string, string> = {};
    for (const e of rootfs.entries()) {
      t.deepEqual([e.uid, e.gid], [0, 0], e.path);
      seen[e.path.replace(/^\//, '')] = e.type === 'dir' ? e.mode.toString(8) : `${e.mode.toString(8)} ${e.sha256}`;
    }
    const dirs = ['usr', 'usr/bin', 'usr/lib', 'usr/lib/x86_64-linux-gnu', PKGLIBDIR.slice(1)];
    t.deepEqual(seen, { ...Object.fromEntries(dirs.map((d) => [d, '755'])), ...expected });
  }
});

test('a missing gcc fails with a message that says what to install', (t) => {
  const missing = /\/nonexistent\/gcc was not found: the gramine-runtime fixture compiles .* Install gcc and libc6-dev \(scripts\/install-deps\.sh/;
  t.throws(() => compileStandins({ gcc: '/nonexistent/gcc' }), { message: missing });
  t.throws(() => gccVersion('/nonexistent/gcc'), { message: missing });
  t.regex(gccVersion(), /^gcc /);
});
