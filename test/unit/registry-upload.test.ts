/**
 * The upload protocol against a recording fake registry (no auth): monolithic PUT below the chunk
 * size, PATCH chunks with contiguous Content-Range above it, mount 201/202, and the referrers tag
 * fallback when the API answers 404. The fake (test/helpers/fake-registry.ts) checks what a real
 * registry checks (offsets, digest).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/image/digest.ts';
import type { Digest } from '../../src/image/types.ts';
import { RegistryClient, RegistryDestination, listReferrers, referrersTag, uploadBlob } from '../../src/transports/registry/index.ts';
import { fakeRegistry } from '../helpers/fake-registry.ts';

const layer = (bytes: Buffer): { mediaType: string; digest: Digest; size: number } => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(bytes), size: bytes.length });

test('a blob up to the chunk size goes in one PUT; a larger one in contiguous PATCH chunks', async (t) => {
  const fake = await fakeRegistry();
  const client = new RegistryClient(fake.host, { plainHttp: true, retries: 0 });
  try {
    const small = randomBytes(1000);
    await uploadBlob(client, 'r', layer(small), Readable.from([small]), { chunkSize: 1000 });
    t.deepEqual(fake.log, ['POST /v2/r/blobs/uploads/', 'PUT /v2/r/blobs/uploads/u1 digest']);
    fake.log.length = 0;
    const big = randomBytes(2500);
    // Input chunk boundaries differ from upload chunk boundaries on purpose.
    await uploadBlob(client, 'r', layer(big), Readable.from([big.subarray(0, 700), big.subarray(700, 2100), big.subarray(2100)]), { chunkSize: 1000 });
    t.deepEqual(fake.log, ['POST /v2/r/blobs/uploads/', 'PATCH /v2/r/blobs/uploads/u2 0-999', 'PATCH /v2/r/blobs/uploads/u2 1000-1999', 'PATCH /v2/r/blobs/uploads/u2 2000-2499', 'PUT /v2/r/blobs/uploads/u2 digest']);
    t.deepEqual(fake.blobs.get(digestOf(big)), big);
  } finally {
    client.close();
    await fake.close();
  }
});

test('content that does not match its digest is never committed; the session is cancelled', async (t) => {
  const fake = await fakeRegistry();
  const client = new RegistryClient(fake.host, { plainHttp: true, retries: 0 });
  try {
    const d = layer(Buffer.from('expected'));
    await t.throwsAsync(uploadBlob(client, 'r', d, Readable.from([Buffer.from('tampered')]), { chunkSize: 4 }), { code: 'E_DIGEST_MISMATCH' });
    t.false(fake.blobs.has(d.digest));
    t.is(fake.log.filter((l) => l.includes('digest')).length, 0);
    t.is(fake.log.at(-1), 'DELETE /v2/r/blobs/uploads/u1');
  } finally {
    client.close();
    await fake.close();
  }
});

test('mount: 201 skips the upload; 202 uploads into the session it opened', async (t) => {
  const fake = await fakeRegistry();
  try {
    const bytes = randomBytes(100);
    fake.blobs.set(digestOf(bytes), bytes);
    const dst = new RegistryDestination({ transport: 'docker', registry: fake.host, repository: 'dst/repo', tag: 't' }, { plainHttp: true, retries: 0, mountFrom: 'src/repo', env: {}, dockerConfigDir: '/nonexistent' });
    await dst.putBlob(layer(bytes), Readable.from([bytes]));
    t.deepEqual(fake.log, ['POST /v2/dst/repo/blobs/uploads/ mount from=src/repo']);
    fake.log.length = 0;
    const other = randomBytes(50);
    await dst.putBlob(layer(other), Readable.from([other]));
    t.deepEqual(fake.log, ['POST /v2/dst/repo/blobs/uploads/ mount from=src/repo', 'PUT /v2/dst/repo/blobs/uploads/u1 digest']);
    // The manifest is PUT only at commit.
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(other), size: 50 }, layers: [layer(bytes)] }));
    t.is(await dst.putManifest(manifest, 'application/vnd.oci.image.manifest.v1+json'), digestOf(manifest));
    t.false(fake.manifests.has('t'));
    await dst.commit();
    t.deepEqual(fake.manifests.get('t'), manifest);
  } finally {
    await fake.close();
  }
});

test('referrers: API 404 falls back to the sha256-<hex> tag, then to an empty index', async (t) => {
  const fake = await fakeRegistry();
  const client = new RegistryClient(fake.host, { plainHttp: true, retries: 0 });
  try {
    const subject = digestOf('subject');
    t.is(referrersTag(subject), `sha256-${subject.slice(7)}`);
    t.deepEqual(await listReferrers(client, 'r', subject), { index: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }, source: 'none' });
    const sig = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf('sig'), size: 3, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' };
    const sbom = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf('sbom'), size: 4, artifactType: 'application/spdx+json' };
    fake.manifests.set(referrersTag(subject), Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [sig, sbom] })));
    const found = await listReferrers(client, 'r', subject, 'application/spdx+json');
    t.is(found.source, 'tag');
    t.deepEqual(found.index.manifests, [sbom]);
    t.true(fake.log.includes(`GET /v2/r/referrers/${subject}`));
  } finally {
    client.close();
    await fake.close();
  }
});
