import test from 'ava';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { assembleImage, writeAssembled } from '../../src/assemble/index.ts';
import { CconvError } from '../../src/errors.ts';
import type { Descriptor } from '../../src/image/types.ts';
import type { ProgressEvent } from '../../src/progress.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { OciLayoutDestination, OciLayoutSource, type ImageDestination } from '../../src/transports/index.ts';
import { CIPHERTEXT, PKGLIBDIR, inputFor, listDir, openBoth, tempDir } from '../helpers/assemble-fixture.ts';

const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

test('written to an OCI layout and read back: the tree a container sees; temp dir removed on close', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const input = inputFor(o);
  const img = await assembleImage(input);
  const out = join(dir, 'out');
  const events: ProgressEvent[] = [];
  const digest = await writeAssembled(img, new OciLayoutDestination({ transport: 'oci', dir: out, tag: 'sgx' }), { report: (e) => events.push(e) });
  await img.close();
  t.deepEqual(await listDir(o.work), []);
  t.is(digest, img.manifestDigest);
  const total = img.layers.reduce((n, l) => n + l.descriptor.size, 0) + img.configBytes.length;
  t.deepEqual(events.filter((e) => e.type === 'start'), [{ type: 'start', id: 'write', title: 'Writing the output image', total }]);
  t.is(events.reduce((n, e) => n + (e.type === 'advance' ? e.amount : 0), 0), total);

  const back = await new OciLayoutSource({ transport: 'oci', dir: out, tag: 'sgx' }).open();
  t.deepEqual(back.manifestBytes, img.manifestBytes);
  t.deepEqual(back.configBytes, img.configBytes);
  const root = await flatten(back);
  const meta = (p: string) => {
    const e = root.get(p);
    return e && { type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, sha256: e.sha256 };
  };
  t.deepEqual(meta('cconv/app.manifest.sgx'), { type: 'file', mode: 0o444, uid: 0, gid: 0, sha256: hex(input.files[0]!.content) });
  t.deepEqual(meta('cconv/app.sig'), { type: 'file', mode: 0o444, uid: 0, gid: 0, sha256: hex(input.files[1]!.content) });
  t.deepEqual(meta('cconv/app.argv'), { type: 'file', mode: 0o444, uid: 0, gid: 0, sha256: hex(input.files[2]!.content) });
  t.deepEqual(meta('app/secret.key'), { type: 'file', mode: 0o600, uid: 1000, gid: 1001, sha256: hex(CIPHERTEXT) });
  t.deepEqual(meta('app'), { type: 'dir', mode: 0o750, uid: 1000, gid: 1000, sha256: undefined });
  t.deepEqual(meta('srv/work'), { type: 'dir', mode: 0o755, uid: 0, gid: 0, sha256: undefined });
  t.is(meta(`${PKGLIBDIR}/libsysdb.so`)?.sha256, hex('new libsysdb\n'));
  t.is(meta(`${PKGLIBDIR}/sgx/loader`)?.sha256, hex('patched loader\n'));
  t.is(meta('usr/bin/gramine-sgx'), undefined);
  t.is(root.get(`${PKGLIBDIR}/runtime/glibc/libc6-link`)?.hardlinkTo, `${PKGLIBDIR}/runtime/glibc/libc.so.6`);
  // App files all there; nothing of the runtime image's distribution.
  for (const p of ['app/run', 'app/data.txt', 'app/other.txt', 'etc/passwd']) t.is(root.get(p)?.type, 'file', p);
  for (const p of ['bin/sh', 'etc/os-release', 'usr/bin/ls', 'usr/lib/x86_64-linux-gnu/libc.so.6']) t.is(root.get(p), undefined, p);
});

/** A destination that fails on the second blob and records its calls. */
class FailingDestination implements ImageDestination {
  readonly reference = { transport: 'oci', dir: '/nonexistent' } as const;
  calls: string[] = [];
  async hasBlob(d: Descriptor): Promise<boolean> {
    this.calls.push(`has ${d.digest.slice(7, 15)}`);
    return false;
  }
  async putBlob(d: Descriptor, content: Readable): Promise<void> {
    this.calls.push(`put ${d.digest.slice(7, 15)}`);
    if (this.calls.filter((c) => c.startsWith('put')).length === 2) {
      content.destroy();
      throw new CconvError('E_REGISTRY', 'upload refused');
    }
    for await (const _ of content) void _;
  }
  async putManifest(): Promise<never> {
    throw new Error('not reached');
  }
  async commit(): Promise<void> {
    this.calls.push('commit');
  }
  async abort(): Promise<void> {
    this.calls.push('abort');
  }
}

test('a failing destination is aborted; the error passes through; close removes the temp dir', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = await assembleImage(inputFor(o));
  const dest = new FailingDestination();
  await t.throwsAsync(writeAssembled(img, dest), { code: 'E_REGISTRY' });
  const short = (d: Descriptor) => d.digest.slice(7, 15);
  t.deepEqual(dest.calls, [
    ...img.layers.map((l) => `has ${short(l.descriptor)}`),
    `has ${short(img.configDescriptor)}`,
    `put ${short(img.layers[0]!.descriptor)}`,
    `put ${short(img.layers[1]!.descriptor)}`,
    'abort',
  ]);
  t.is((await listDir(o.work)).length, 1);
  await img.close();
  await img.close();
  t.deepEqual(await listDir(o.work), []);
});

test('blobs the destination already has are not uploaded', async (t) => {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const img = await assembleImage(inputFor(o));
  t.teardown(() => img.close());
  const out = join(dir, 'out');
  await writeAssembled(img, new OciLayoutDestination({ transport: 'oci', dir: out, tag: 'a' }));
  const events: ProgressEvent[] = [];
  await writeAssembled(img, new OciLayoutDestination({ transport: 'oci', dir: out, tag: 'b' }), { report: (e) => events.push(e) });
  t.deepEqual(events.filter((e) => e.type === 'start'), [{ type: 'start', id: 'write', title: 'Writing the output image', total: 0 }]);
  t.is(events.filter((e) => e.type === 'log').length, img.layers.length + 1);
});
