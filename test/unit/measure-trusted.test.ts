import test from 'ava';
import { createHash } from 'node:crypto';
import { completeManifest, dumpManifestToml, expandTrustedFiles, parseManifestToml, type TrustedFile } from '../../src/measure/index.ts';
import type { Rootfs } from '../../src/rootfs/types.ts';
import { chardev, dir, file, fakeRootfs, hardlink, symlink } from '../helpers/fake-rootfs.ts';
import { caseBRootfs, caseFile, constants, libsysdb, signCases, vecJson } from '../helpers/measure-vectors.ts';

const caseB = signCases().find((c) => c.dir === 'b-debug-chroot-trusted')!;
const vectorList = (): TrustedFile[] => vecJson('sgx-sign/b-debug-chroot-trusted/trusted_files.json');

/** URIs of absolute symlinks in the root: where the reference's host-symlink quirk can bite. */
function hostQuirkUris(rootfs: Rootfs): Set<string> {
  const out = new Set<string>();
  for (const e of rootfs.entries()) if (e.type === 'symlink' && e.linkTarget?.startsWith('/')) out.add(`file:/${e.path}`);
  return out;
}

async function expandCaseB(hash: boolean) {
  const rootfs = await caseBRootfs(hash);
  const done = await completeManifest(caseFile(caseB, 'unexpanded.manifest').toString('utf8'), {
    constants: await constants(), libos: libsysdb(), rootfs,
  });
  return { rootfs, done };
}

for (const hash of [true, false]) {
  test(`case b (flatten hash=${hash}): every uri/sha256 pair matches trusted_files.json; only the host-symlink quirk differs`, async (t) => {
    const { rootfs, done } = await expandCaseB(hash);
    const ours = done.trustedFiles;
    const ref = vectorList();
    const quirk = hostQuirkUris(rootfs);
    // The quirk URIs that matter are those our directory expansion kept; there is at least one.
    const hit = ours.filter((tf) => quirk.has(tf.uri));
    t.true(hit.length > 0);
    // Same set of (uri, sha256) pairs: the explicit entry re-adds what the reference's expansion dropped.
    const pairs = (l: TrustedFile[]) => l.map((tf) => `${tf.uri} ${tf.sha256}`).sort();
    t.deepEqual(pairs(ours), pairs(ref));
    // Without the quirk entries, both lists are identical in order too.
    const without = (l: TrustedFile[]) => l.filter((tf) => !quirk.has(tf.uri));
    t.deepEqual(without(ours), without(ref));
    // In our list each quirk entry sits at its sorted place in its directory's expansion (before
    // the entries that follow it in that directory), not where the explicit entry put it.
    for (const q of hit) {
      const i = ours.findIndex((tf) => tf.uri === q.uri);
      const j = ref.findIndex((tf) => tf.uri === q.uri);
      t.true(i < j);
      const dirUri = q.uri.slice(0, q.uri.lastIndexOf('/') + 1);
      t.true(ours[i - 1]!.uri.startsWith(dirUri) || ours[i + 1]!.uri.startsWith(dirUri));
    }
  });
}

test('case b: the whole .manifest.sgx differs from the reference only by the trusted file order', async (t) => {
  const { done } = await expandCaseB(true);
  const ref = parseManifestToml(caseFile(caseB, 'app.manifest.sgx').toString('utf8'));
  (ref.sgx as any).trusted_files = done.trustedFiles.map((tf) => ({ uri: tf.uri, sha256: tf.sha256 }));
  t.is(done.bytes.toString('utf8'), dumpManifestToml(ref));
  t.false(done.bytes.equals(caseFile(caseB, 'app.manifest.sgx')));
});

test('case b: URIs never contain where the root came from, and duplicates keep the first position', async (t) => {
  const { done } = await expandCaseB(true);
  const uris = done.trustedFiles.map((tf) => tf.uri);
  t.is(new Set(uris).size, uris.length);
  t.is(uris[0], 'file:/bin/hello');
  t.false(uris.some((u) => u.includes('data-dirlink')));
});

test('directory URIs resolve inside the root and build child URIs from the resolved path', async (t) => {
  for (const hash of [true, false]) {
    const got = await expandTrustedFiles([{ uri: 'file:/lib/' }, { uri: 'file:/etc/up' }], fakeRootfsFrom(hash));
    t.deepEqual(got, [
      { uri: 'file:/usr/lib/.hidden', sha256: sha('H') },
      { uri: 'file:/usr/lib/a.so', sha256: sha('A') },
      { uri: 'file:/usr/lib/b.so', sha256: sha('A') },
      { uri: 'file:/usr/lib/h.so', sha256: sha('A') },
      { uri: 'file:/usr/lib/sub/z', sha256: sha('Z') },
      { uri: 'file:/etc/up', sha256: sha('F') },
    ]);
  }
});

test('bad trusted files are E_TRUSTED_FILE', async (t) => {
  const r = fakeRootfsFrom(true);
  const cases = [
    [{ uri: 'file:/etc/missing' }],
    [{ uri: 'file:/etc' }],
    [{ uri: 'file:/etc/f/' }],
    [{ uri: 'file:/usr/lib/loop' }],
    [{ uri: 'file:/usr/lib/tty' }],
    [{ uri: 'file:/etc/f/x' }],
    [{ uri: 'http://x/y' }],
    [{ uri: 'file:relative' }],
    [{ uri: 'file:/usr/', sha256: '0'.repeat(64) }],
    [{ uri: 'file:/etc/f', sha256: '0'.repeat(64) }, { uri: 'file:/etc/f', sha256: '1'.repeat(64) }],
  ];
  for (const specs of cases) await t.throwsAsync(expandTrustedFiles(specs, r), { code: 'E_TRUSTED_FILE' }, JSON.stringify(specs));
  await t.throwsAsync(expandTrustedFiles([{ uri: 'file:/etc/f' }], undefined), { code: 'E_TRUSTED_FILE' });
});

test('pre-hashed entries are kept as given and not read; a later unhashed duplicate does not replace them', async (t) => {
  const r = fakeRootfsFrom(false);
  const pre = { uri: 'file:/etc/f', sha256: 'ab'.repeat(32) };
  t.deepEqual(await expandTrustedFiles([pre, { uri: 'file:/etc/f' }], r), [pre]);
  t.is(r.readCount, 0);
  t.deepEqual(await expandTrustedFiles([pre, { uri: 'file:/etc/gone', sha256: 'cd'.repeat(32) }], undefined), [pre, { uri: 'file:/etc/gone', sha256: 'cd'.repeat(32) }]);
});

test('pre-hashed files need not exist in the root (as in the reference), but may not name a directory', async (t) => {
  const r = fakeRootfsFrom(false);
  const added = [{ uri: 'file:/cconv/argv', sha256: 'ef'.repeat(32) }, { uri: 'file:/etc/new', sha256: '01'.repeat(32) }];
  t.deepEqual(await expandTrustedFiles(added, r), added);
  t.is(r.readCount, 0);
  await t.throwsAsync(expandTrustedFiles([{ uri: 'file:/usr/lib', sha256: '01'.repeat(32) }], r), { code: 'E_TRUSTED_FILE', message: /does not end with/ });
});

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
/** A root with a symlinked /lib, file/dir/dangling/loop symlinks, a device, a hardlink, a dotfile. */
function fakeRootfsFrom(hash: boolean) {
  return fakeRootfs([
    dir('usr/lib'), symlink('lib', 'usr/lib'), file('usr/lib/a.so', 'A'), symlink('usr/lib/b.so', 'a.so'),
    symlink('usr/lib/dangling', '/nope'), symlink('usr/lib/loop', 'loop'), chardev('usr/lib/tty'), hardlink('usr/lib/h.so', 'usr/lib/a.so'),
    symlink('usr/lib/dirlink', 'sub'), dir('usr/lib/sub'), file('usr/lib/sub/z', 'Z'), file('usr/lib/.hidden', 'H'), file('etc/f', 'F'),
    symlink('etc/up', '../../../etc/f'),
  ], { hash });
}
