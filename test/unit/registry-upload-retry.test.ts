/**
 * Chunk uploads survive a failing PATCH: against the fake registry (test/helpers/fake-registry.ts)
 * the second chunk's PATCH fails with 503 + Retry-After, a dropped connection and 429, one after
 * the other; the client waits (Retry-After honoured), asks the session's offset (GET, Range), and
 * sends the chunk again. A connection dropped after the registry stored part of the chunk resumes
 * mid-chunk. The pushed blob is complete and has the right digest. Retries are bounded: a PATCH
 * that keeps failing ends the upload with the registry's answer, and the session is cancelled.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf } from '../../src/image/digest.ts';
import type { Descriptor } from '../../src/image/types.ts';
import { RegistryClient, uploadBlob } from '../../src/transports/registry/index.ts';
import { fakeRegistry, type PatchFault } from '../helpers/fake-registry.ts';

const CHUNK = 1000;
const layer = (bytes: Buffer): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(bytes), size: bytes.length });

async function pushWith(faults: PatchFault[], retries = 4): Promise<{ log: string[]; times: number[]; stored: Buffer | undefined; error?: unknown }> {
  const fake = await fakeRegistry({ patchFaults: { at: CHUNK, faults } });
  const client = new RegistryClient(fake.host, { plainHttp: true, retries, retryBaseMs: 1, retryMaxMs: 2000 });
  const blob = randomBytes(2500);
  try {
    await uploadBlob(client, 'r', layer(blob), Readable.from([blob]), { chunkSize: CHUNK });
    const stored = fake.blobs.get(digestOf(blob));
    return { log: fake.log, times: fake.times, stored: stored !== undefined && stored.equals(blob) ? stored : undefined };
  } catch (error) {
    return { log: fake.log, times: fake.times, stored: undefined, error };
  } finally {
    client.close();
    await fake.close();
  }
}

test('the 2nd PATCH failing with 503 + Retry-After, a reset, then 429 is retried until the blob is complete', async (t) => {
  const run = await pushWith([{ status: 503, retryAfter: '1' }, { reset: true }, { status: 429 }]);
  t.is(run.error, undefined);
  t.truthy(run.stored, 'the blob stored has the right bytes');
  const u = '/v2/r/blobs/uploads/u1';
  t.deepEqual(run.log, [
    'POST /v2/r/blobs/uploads/',
    `PATCH ${u} 0-999`,
    `PATCH ${u} 1000-1999`, // 503, Retry-After: 1
    `GET ${u}`,
    `PATCH ${u} 1000-1999`, // connection dropped
    `GET ${u}`,
    `PATCH ${u} 1000-1999`, // 429
    `GET ${u}`,
    `PATCH ${u} 1000-1999`,
    `PATCH ${u} 2000-2499`,
    `PUT ${u} digest`,
  ]);
  // Retry-After: 1 was honoured between the 503 and the status request.
  t.true(run.times[3]! - run.times[2]! >= 950, `waited ${run.times[3]! - run.times[2]!} ms`);
});

test('a connection dropped after part of the chunk was stored resumes from the registry\'s offset', async (t) => {
  const run = await pushWith([{ reset: true, keep: 400 }]);
  t.is(run.error, undefined);
  t.truthy(run.stored);
  const u = '/v2/r/blobs/uploads/u1';
  t.deepEqual(run.log.slice(2), [`PATCH ${u} 1000-1999`, `GET ${u}`, `PATCH ${u} 1400-1999`, `PATCH ${u} 2000-2499`, `PUT ${u} digest`]);
});

test('a chunk that arrived whole although the answer was lost is not sent again', async (t) => {
  const run = await pushWith([{ reset: true, keep: CHUNK }]);
  t.truthy(run.stored);
  const u = '/v2/r/blobs/uploads/u1';
  t.deepEqual(run.log.slice(2), [`PATCH ${u} 1000-1999`, `GET ${u}`, `PATCH ${u} 2000-2499`, `PUT ${u} digest`]);
});

test('retries are bounded: a PATCH that keeps failing ends with E_REGISTRY and the session is cancelled', async (t) => {
  const run = await pushWith([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }], 2);
  t.is((run.error as { code?: string }).code, 'E_REGISTRY');
  t.regex((run.error as Error).message, /chunk 1000-1999\): registry answered 503/);
  t.is(run.log.filter((l) => l.startsWith('PATCH') && l.endsWith('1000-1999')).length, 3);
  t.is(run.log.at(-1), 'DELETE /v2/r/blobs/uploads/u1');
});
