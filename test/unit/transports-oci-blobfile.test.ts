/**
 * Blobs stored from local files (OciLayoutDestination.putBlobFile, used for layers an OCI layout
 * source holds as files): the copy is verified, a bad or missing file leaves nothing, and
 * `cconv copy` between layouts gives the same blobs as the streamed path.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Descriptor, Digest } from '../../src/image/types.ts';
import { copyImage, openDestination, openSource, parseReference } from '../../src/transports/index.ts';
import { buildLayer, sha256, writeOciLayout } from '../helpers/oci-builder.ts';

test.beforeEach(async (t) => {
  t.context = await mkdtemp(join(tmpdir(), 'cconv-blobfile-'));
});
test.afterEach.always(async (t) => {
  await rm(t.context as string, { recursive: true, force: true });
});

const layerType = 'application/vnd.oci.image.layer.v1.tar+gzip';

test('putBlobFile stores an exact copy; a file that does not match the digest or size, or is missing, leaves nothing', async (t) => {
  const dir = t.context as string;
  const bytes = randomBytes(3 << 20);
  const src = join(dir, 'blob');
  await writeFile(src, bytes);
  const out = join(dir, 'out');
  const dest = openDestination(parseReference(`oci:${out}:x`));
  const good: Descriptor = { mediaType: layerType, digest: sha256(bytes), size: bytes.length };
  await dest.putBlobFile!(good, src);
  t.deepEqual(await readFile(join(out, 'blobs', 'sha256', good.digest.slice(7))), bytes);

  const other: Descriptor = { mediaType: layerType, digest: sha256('something else') as Digest, size: bytes.length };
  await t.throwsAsync(dest.putBlobFile!(other, src), { code: 'E_DIGEST_MISMATCH' });
  await t.throwsAsync(dest.putBlobFile!({ ...good, digest: sha256('x'), size: bytes.length + 1 }, src), { code: 'E_SIZE_MISMATCH' });
  await t.throwsAsync(dest.putBlobFile!(other, join(dir, 'missing')), { code: 'E_IO', message: /^writing blob sha256:[0-9a-f]{64}: ENOENT/ });
  t.deepEqual(await readdir(join(out, 'blobs', 'sha256')), [good.digest.slice(7)]); // no temp file left
  await dest.abort();
});

test('cconv copy between OCI layouts copies layer files in the kernel: same blobs, same manifest digest', async (t) => {
  const dir = t.context as string;
  const layers = [await buildLayer([{ name: 'a', content: randomBytes(200_000) }], { compression: 'gzip' }), await buildLayer([{ name: 'b', content: 'b' }], { compression: 'gzip' })];
  const src = join(dir, 'src');
  const built = await writeOciLayout(src, [{ layers, tag: 'v1' }]);
  const dst = join(dir, 'dst');
  const r = await copyImage(openSource(parseReference(`oci:${src}:v1`)), openDestination(parseReference(`oci:${dst}:v1`)));
  t.is(r.manifestDigest, built.images[0]!.manifestDigest);
  for (const l of layers) t.deepEqual(await readFile(join(dst, 'blobs', 'sha256', l.digest.slice(7))), l.bytes);
});
