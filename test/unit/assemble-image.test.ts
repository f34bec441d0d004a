import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { assembleImage, writeAssembled, type AssembledImage } from '../../src/assemble/index.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { blobPath, OciLayoutDestination, OciLayoutSource } from '../../src/transports/index.ts';
import type { Digest } from '../../src/image/types.ts';
import {
  CIPHERTEXT, EPOCH, PKGLIBDIR, SECRET_V0, SECRET_V1, inputFor, listDir, openBoth, readAll, tarMembers, tempDir,
} from '../helpers/assemble-fixture.ts';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

function closing(t: { teardown(fn: () => Promise<void>): void }, img: AssembledImage): AssembledImage {
  t.teardown(() => img.close());
  return img;
}

test('same inputs give the same image; clean layers are the source blobs, the others are rewritten', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const a = closing(t, await assembleImage(inputFor(o)));
  const b = closing(t, await assembleImage(inputFor(o, { tmpDir: dir })));
  t.is(a.manifestDigest, b.manifestDigest);
  t.deepEqual(a.manifestBytes, b.manifestBytes);
  t.deepEqual(a.configBytes, b.configBytes);
  for (let i = 0; i < a.layers.length; i++) t.deepEqual(await readAll(await a.layers[i]!.open()), await readAll(await b.layers[i]!.open()));
  t.deepEqual(a.rewritten, [0, 1]);
  t.deepEqual(a.layers.map((l) => [l.role, l.kept]), [['source', false], ['source', false], ['source', true], ['runtime', false], ['cconv', false]]);
  // The kept layer: same descriptor, same bytes as the stored source blob.
  const src = o.app.layers[2]!;
  t.deepEqual(a.layers[2]!.descriptor, src.descriptor);
  t.is(a.layers[2]!.diffId, src.diffId);
  t.deepEqual(await readAll(await a.layers[2]!.open()), await readFile(blobPath(join(dir, 'app'), src.descriptor.digest)));
  // Built layers: gzip blobs whose descriptor and diff_id match their bytes.
  for (const l of a.layers.filter((x) => !x.kept)) {
    const blob = await readAll(await l.open());
    t.is(l.descriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    t.is(l.descriptor.digest, sha(blob));
    t.is(l.descriptor.size, blob.length);
    t.is(l.diffId, sha(gunzipSync(blob)));
    t.is(blob[9], 3); // gzip OS byte: Unix
    t.is(blob.readUInt32LE(4), 0); // gzip header mtime 0
  }
});

test('no blob holds a 32-byte window of any plaintext version of an encrypted file', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = closing(t, await assembleImage(inputFor(o)));
  const blobs: Buffer[] = [img.manifestBytes, img.configBytes];
  for (const l of img.layers) {
    const blob = await readAll(await l.open());
    blobs.push(blob);
    if (blob[0] === 0x1f && blob[1] === 0x8b) blobs.push(gunzipSync(blob));
  }
  const hits = (plain: Buffer, within: Buffer[]) => {
    let n = 0;
    for (let i = 0; i + 32 <= plain.length; i++) for (const b of within) if (b.includes(plain.subarray(i, i + 32))) n++;
    return n;
  };
  // The check itself finds the plaintexts in the source layers...
  const source0 = await readAll(await o.app.layers[0]!.openUncompressed());
  const source1 = await readAll(await o.app.layers[1]!.openUncompressed());
  t.is(hits(SECRET_V0, [source0]), SECRET_V0.length - 31);
  t.is(hits(SECRET_V1, [source1]), SECRET_V1.length - 31);
  // ...and in no output blob, compressed or not; the ciphertext is there instead.
  t.is(hits(SECRET_V0, blobs), 0);
  t.is(hits(SECRET_V1, blobs), 0);
  t.true(blobs.some((b) => b.includes(CIPHERTEXT)));
});

test('a rewritten layer has the same members in the same order, minus the encrypted path', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = closing(t, await assembleImage(inputFor(o)));
  for (const [out, src] of [[0, 0], [1, 1]] as const) {
    const before = await tarMembers(await readAll(await o.app.layers[src]!.openCompressed()));
    const after = await tarMembers(await readAll(await img.layers[out]!.open()));
    t.deepEqual(after, before.filter((m) => m.name !== 'app/secret.key'));
    t.true(before.some((m) => m.name === 'app/secret.key'));
  }
});

test('the app layers cannot delete or hide the runtime: whiteouts and opaque dirs over its paths leave it whole', async (t) => {
  const dir = await tempDir(t);
  const g = PKGLIBDIR;
  const o = await openBoth(dir, [
    { name: '.wh..wh..opq', content: '' },
    { name: 'usr/', type: 'directory', mode: 0o750 },
    { name: 'usr/.wh..wh..opq', content: '' },
    { name: 'usr/lib/', type: 'directory' },
    { name: 'usr/lib/x86_64-linux-gnu/', type: 'directory' },
    { name: 'usr/lib/x86_64-linux-gnu/.wh.gramine', content: '' },
  ]);
  const img = closing(t, await assembleImage(inputFor(o)));
  const dest = join(dir, 'out');
  await writeAssembled(img, new OciLayoutDestination({ transport: 'oci', dir: dest, tag: 'sgx' }));
  const out = await new OciLayoutSource({ transport: 'oci', dir: dest, tag: 'sgx' }).open();
  t.teardown(() => out.close());
  const root = await flatten(out);
  t.is(root.get(`${g}/sgx/loader`)?.type, 'file');
  t.is(root.get(`${g}/sgx/host/libc.so.6`)?.type, 'file');
  t.is(root.get(`${g}/libsysdb.so`)?.type, 'file');
  // The app's tree is unchanged around it: its own /usr keeps the app's mode.
  t.is(root.get('usr')?.mode, 0o750);
  t.is(root.get('app/run')?.type, 'file');
});

test('a hardlink to an encrypted file is refused, and the temp dir is removed', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir, [{ name: 'app/key-link', type: 'link', linkname: 'app/secret.key' }]);
  const err = await t.throwsAsync(assembleImage(inputFor(o)), { code: 'E_UNSUPPORTED' });
  t.regex(err!.message, /"\/app\/key-link" -> "\/app\/secret\.key"/);
  t.deepEqual(await listDir(o.work), []);
});

test('the runtime layer: the runtime paths, their parents, added files over them; links out of pkglibdir dereferenced, dangling ones dropped', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = closing(t, await assembleImage(inputFor(o)));
  const members = await tarMembers(await readAll(await img.layers.find((l) => l.role === 'runtime')!.open()));
  const g = PKGLIBDIR;
  const row = (name: string, type: string, mode: number, linkname = '', content = '', uid = 0, gid = 0) => ({ name, type, mode, uid, gid, mtime: EPOCH, linkname, content: Buffer.from(content) });
  t.deepEqual(members, [
    row('usr/', 'dir', 0o755),
    row('usr/lib/', 'dir', 0o755),
    row('usr/lib/x86_64-linux-gnu/', 'dir', 0o755),
    row(`${g}/`, 'dir', 0o755),
    row(`${g}/libsysdb.so`, 'file', 0o755, '', 'new libsysdb\n'),
    row(`${g}/runtime/`, 'dir', 0o755),
    row(`${g}/runtime/glibc/`, 'dir', 0o755),
    row(`${g}/runtime/glibc/ld-linux-x86-64.so.2`, 'file', 0o644, '', 'ld\n'),
    row(`${g}/runtime/glibc/ld.so`, 'symlink', 0o644, 'ld-linux-x86-64.so.2'),
    row(`${g}/runtime/glibc/libc.so.6`, 'file', 0o644, '', 'gramine libc\n'),
    row(`${g}/runtime/glibc/libc6-link`, 'link', 0o644, `${g}/runtime/glibc/libc.so.6`),
    row(`${g}/runtime/glibc/libmbedcrypto_gramine.so.16`, 'file', 0o640, '', 'mbedcrypto\n'),
    row(`${g}/sgx/`, 'dir', 0o700),
    row(`${g}/sgx/host/`, 'dir', 0o755),
    row(`${g}/sgx/host/libc.so.6`, 'file', 0o644, '', 'host libc\n'),
    row(`${g}/sgx/libpal.so`, 'file', 0o755, '', 'libpal\n', 7, 8),
    row(`${g}/sgx/loader`, 'file', 0o755, '', 'patched loader\n'),
  ]);
});

test('a link from pkglibdir to a directory outside it is E_CONFIG naming both', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir, [], [{ name: `${PKGLIBDIR}/runtime/python`, type: 'symlink', linkname: '/usr/lib' }]);
  await t.throwsAsync(assembleImage(inputFor(o)), { code: 'E_CONFIG', message: /runtime\/python links to the dir \/usr\/lib, outside/ });
  t.deepEqual(await listDir(o.work), []);
});

test('the cconv layer: added files, ciphertext with the original owner and mode, created and missing parent dirs', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const input = inputFor(o);
  const img = closing(t, await assembleImage(input));
  const members = await tarMembers(await readAll(await img.layers[4]!.open()));
  const row = (name: string, type: string, mode: number, content: Buffer = Buffer.alloc(0), uid = 0, gid = 0) => ({ name, type, mode, uid, gid, mtime: EPOCH, linkname: '', content });
  t.deepEqual(members, [
    row('app/secret.key', 'file', 0o600, CIPHERTEXT, 1000, 1001),
    row('cconv/', 'dir', 0o755),
    row('cconv/app.argv', 'file', 0o444, input.files[2]!.content),
    row('cconv/app.manifest.sgx', 'file', 0o444, input.files[0]!.content),
    row('cconv/app.sig', 'file', 0o444, input.files[1]!.content),
    row('srv/', 'dir', 0o755),
    row('srv/work/', 'dir', 0o755),
  ]);
});

test('input errors: wrong ciphertext size, missing runtime path, app file over the runtime, dir in the way; temp dir removed', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir, [{ name: `${PKGLIBDIR}/libsysdb.so`, content: 'app copy' }]);
  const base = inputFor(o);
  const wrongSize = { ...base, encrypted: [{ ...base.encrypted[0]!, size: CIPHERTEXT.length + 1 }] };
  const ok = { ...base, runtime: { ...base.runtime, paths: ['/usr/bin/gramine-sgx'] } };
  await t.throwsAsync(assembleImage({ ...ok, encrypted: wrongSize.encrypted }), { code: 'E_SIZE_MISMATCH', message: /^the ciphertext of \/\S+ \(\S+\) is 1 bytes short of its \d+$/ });
  await t.throwsAsync(assembleImage({ ...ok, runtime: { ...ok.runtime, paths: ['/usr/bin/gramine-direct'] } }), { code: 'E_CONFIG' });
  await t.throwsAsync(assembleImage(base), { code: 'E_CONFIG', message: /\/usr\/lib\/x86_64-linux-gnu\/gramine\/libsysdb\.so/ });
  await t.throwsAsync(assembleImage({ ...ok, files: [{ path: '/app', content: Buffer.from('x'), mode: 0o444 }] }), { code: 'E_CONFIG' });
  await t.throwsAsync(assembleImage({ ...ok, files: [{ path: '/app/run/x', content: Buffer.from('x'), mode: 0o444 }] }), { code: 'E_CONFIG' });
  await t.throwsAsync(assembleImage({ ...ok, encrypted: [{ ...ok.encrypted[0]!, ciphertextFile: join(dir, 'missing') }] }), { code: 'E_IO' });
  t.deepEqual(await listDir(o.work), []);
  const img = await assembleImage(ok);
  t.is((await listDir(o.work)).length, 1);
  await img.close();
  t.deepEqual(await listDir(o.work), []);
});
