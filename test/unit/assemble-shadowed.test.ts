/**
 * Plaintexts of encrypted paths that the final tree no longer holds (issue 17): a file a later
 * layer whites out, and a file a later layer replaces by a directory, under `--encrypt
 * '/app/model/**'`. The assembler gets the policy's test of encrypted paths and drops every such
 * plaintext from every app layer, counting the ones that were not live; no output blob (stored or
 * decompressed) holds any 32-byte window of them, while the live tree is unchanged but for the
 * ciphertexts. A hardlink from a live path to such a deleted file is refused.
 */
import test from 'ava';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { assembleImage, writeAssembled, type AssembledImage, type AssembleInput } from '../../src/assemble/index.ts';
import { encryptedPathTest, parsePolicy } from '../../src/policy/index.ts';
import { flatten } from '../../src/rootfs/index.ts';
import { OciLayoutDestination, OciLayoutSource } from '../../src/transports/index.ts';
import { findWindows, layoutBlobs, type LayoutBlob } from '../helpers/blob-scan.ts';
import { APP_CONFIG, CIPHERTEXT, chainBytes, inputFor, openBoth, openLayout, readAll, tarMembers, tempDir, type Opened } from '../helpers/assemble-fixture.ts';
import { buildLayer, type TarEntry } from '../helpers/oci-builder.ts';

const OLD = chainBytes('model old.bin');
const WEIGHTS = chainBytes('model weights.bin v0');
const MODEL_FILE = chainBytes('model as a file');
const README = 'not secret: a later rule trusts it\n';

/** trust everything, encrypt /app/model/**, then take /app/model/README back (last match wins). */
const ENCRYPTS = encryptedPathTest(parsePolicy({
  version: 1,
  rules: [
    { type: 'trust', paths: ['/**'] },
    { type: 'encrypt', paths: ['/app/model/**'] },
    { type: 'trust', paths: ['/app/model/README'] },
  ],
}))!;

const APP: TarEntry[] = [
  { name: 'app/', type: 'directory', uid: 1000, gid: 1000, mode: 0o750 },
  { name: 'app/run', content: '#!/bin/run\n', mode: 0o755 },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' },
];

/** The shared runtime and ciphertext of `openBoth`, with an app image made of `layers`. */
async function withApp(t: Parameters<typeof tempDir>[0], layers: TarEntry[][]): Promise<Opened & { appDir: string }> {
  const dir = await tempDir(t);
  const o = await openBoth(dir);
  const appDir = join(dir, 'app-shadowed');
  const app = await openLayout(appDir, await Promise.all(layers.map((l) => buildLayer(l, { compression: 'gzip' }))), APP_CONFIG);
  return { ...o, app, appRoot: await flatten(app), appDir };
}

function input(o: Opened, overrides: Partial<AssembleInput> = {}): AssembleInput {
  return inputFor(o, { encrypted: [{ path: '/app/model/weights.bin', ciphertextFile: o.ciphertextFile, size: CIPHERTEXT.length }], encrypts: ENCRYPTS, ...overrides });
}

/** Every output blob, stored and decompressed, in the form blob-scan.ts scans. */
async function outputBlobs(img: AssembledImage): Promise<LayoutBlob[]> {
  const blobs: LayoutBlob[] = [{ digest: 'manifest', stored: img.manifestBytes }, { digest: 'config', stored: img.configBytes }];
  for (const l of img.layers) {
    const stored = await readAll(await l.open());
    blobs.push(stored[0] === 0x1f && stored[1] === 0x8b ? { digest: l.descriptor.digest, stored, decompressed: gunzipSync(stored) } : { digest: l.descriptor.digest, stored });
  }
  return blobs;
}

/** Writes the image to an OCI layout and flattens it back. */
async function outputRoot(t: Parameters<typeof tempDir>[0], img: AssembledImage) {
  const dest = join(await tempDir(t), 'out');
  await writeAssembled(img, new OciLayoutDestination({ transport: 'oci', dir: dest, tag: 'sgx' }));
  const out = await new OciLayoutSource({ transport: 'oci', dir: dest, tag: 'sgx' }).open();
  t.teardown(() => out.close());
  return flatten(out);
}

test('a file a later layer whites out: dropped from its layer too, and counted; the whiteout layer is kept', async (t) => {
  const o = await withApp(t, [
    [...APP, { name: 'app/model/', type: 'directory' }, { name: 'app/model/old.bin', content: OLD }, { name: 'app/model/weights.bin', content: WEIGHTS }, { name: 'app/model/README', content: README }],
    [{ name: 'app/model/.wh.old.bin', content: '' }],
  ]);
  t.true(findWindows(await layoutBlobs(o.appDir), OLD).length > 0, 'the scan finds old.bin in the source');
  const img = await assembleImage(input(o));
  t.teardown(() => img.close());
  t.deepEqual(img.rewritten, [0]);
  t.is(img.droppedShadowed, 1);
  t.deepEqual(img.layers.map((l) => [l.role, l.kept]), [['source', false], ['source', true], ['runtime', false], ['cconv', false]]);
  const blobs = await outputBlobs(img);
  t.deepEqual(findWindows(blobs, OLD), []);
  t.deepEqual(findWindows(blobs, WEIGHTS), []);
  // The rewritten layer: every member but the two encrypted files, in order; README stays.
  t.deepEqual((await tarMembers(await readAll(await img.layers[0]!.open()))).map((m) => m.name), ['app/', 'app/run', 'etc/', 'etc/passwd', 'app/model/', 'app/model/README']);
  const root = await outputRoot(t, img);
  t.is(root.get('app/model/old.bin'), undefined);
  t.is(root.get('app/model/weights.bin')?.size, CIPHERTEXT.length);
  t.is(root.get('app/model/README')?.size, README.length);
  t.is(root.get('app')?.mode, 0o750);
});

test('a file a later layer replaces by a directory: dropped, and the directory\'s files are encrypted', async (t) => {
  const o = await withApp(t, [
    [...APP, { name: 'app/model', content: MODEL_FILE }],
    [{ name: 'app/model/', type: 'directory', mode: 0o700 }, { name: 'app/model/weights.bin', content: WEIGHTS }],
  ]);
  t.is(o.appRoot.get('app/model')?.type, 'dir');
  const img = await assembleImage(input(o));
  t.teardown(() => img.close());
  t.deepEqual(img.rewritten, [0, 1]);
  t.is(img.droppedShadowed, 1);
  const blobs = await outputBlobs(img);
  t.deepEqual(findWindows(blobs, MODEL_FILE), []);
  t.deepEqual(findWindows(blobs, WEIGHTS), []);
  t.deepEqual((await tarMembers(await readAll(await img.layers[1]!.open()))).map((m) => [m.name, m.mode]), [['app/model/', 0o700]]);
  const root = await outputRoot(t, img);
  t.is(root.get('app/model')?.type, 'dir');
  t.is(root.get('app/model')?.mode, 0o700);
  t.is(root.get('app/model/weights.bin')?.size, CIPHERTEXT.length);
});

test('without the policy test only live encrypted files are dropped (a caller that has no policy)', async (t) => {
  const o = await withApp(t, [
    [...APP, { name: 'app/model/', type: 'directory' }, { name: 'app/model/old.bin', content: OLD }, { name: 'app/model/weights.bin', content: WEIGHTS }],
    [{ name: 'app/model/.wh.old.bin', content: '' }],
  ]);
  const img = await assembleImage(input(o, { encrypts: undefined as never }));
  t.teardown(() => img.close());
  t.is(img.droppedShadowed, 0);
  t.deepEqual(findWindows(await outputBlobs(img), WEIGHTS), []);
});

test('a hardlink from a live path to a deleted encrypted file is refused: its other name keeps the plaintext', async (t) => {
  const o = await withApp(t, [
    [...APP, { name: 'app/model/', type: 'directory' }, { name: 'app/model/old.bin', content: OLD }, { name: 'app/model/weights.bin', content: WEIGHTS }, { name: 'app/old-copy', type: 'link', linkname: 'app/model/old.bin' }],
    [{ name: 'app/model/.wh.old.bin', content: '' }],
  ]);
  const err = await t.throwsAsync(assembleImage(input(o)), { code: 'E_UNSUPPORTED' });
  t.regex(err!.message, /hardlink "\/app\/old-copy" -> "\/app\/model\/old\.bin" involves the encrypted file \/app\/model\/old\.bin/);
});
