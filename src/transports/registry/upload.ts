/**
 * Blob uploads (distribution spec "pushing blobs"): POST to open a session, then either one
 * monolithic `PUT ?digest=` (blob no larger than one chunk) or `PATCH` chunks with Content-Range
 * followed by a closing `PUT ?digest=`. Also cross-repository mounts. At most one chunk
 * (`chunkSize` bytes) is held in memory; a chunk whose PATCH fails (408/429/5xx, 416, a reset
 * connection) is resumed on its own: the registry is asked how much of the session it holds
 * (`GET` on the session, `Range: 0-<last byte>`), and only the rest of the chunk is sent.
 */
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { createVerifier } from '../../image/digest.ts';
import type { Descriptor, Digest } from '../../image/types.ts';
import { chain } from '../../image/streams.ts';
import { repositoryScope } from './auth.ts';
import { responseError, type RegistryClient } from './client.ts';
import { headerValue, isRetryableFailure, isRetryableStatus, sleep, type HttpResponse } from './http.ts';

/** Default upload chunk: blobs up to this size go in one PUT, larger ones in PATCH chunks of this size. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

/** Options of `uploadBlob`. */
export interface UploadOptions {
  chunkSize?: number;
  /** An upload session already opened (e.g. by a mount answered 202). */
  location?: string;
  /** Called with the number of bytes sent after each chunk. */
  onBytes?: (n: number) => void;
}

function sessionLocation(client: RegistryClient, res: HttpResponse, what: string): string {
  const location = headerValue(res.headers.location);
  if (location === undefined) throw new CconvError('E_REGISTRY', `${what}: registry answered ${res.status} without a Location`);
  return new URL(location, client.baseUrl).toString();
}

/** Opens an upload session; returns its URL. */
export async function startUpload(client: RegistryClient, repository: string): Promise<string> {
  const what = `upload to ${client.registry}/${repository}`;
  const res = await client.send({ method: 'POST', url: client.url(`${repository}/blobs/uploads/`) }, [repositoryScope(repository, 'pull,push')]);
  if (res.status !== 202) throw await responseError(res, what);
  res.body.resume();
  return sessionLocation(client, res, what);
}

/**
 * Asks the registry to mount `digest` from repository `from` into `repository`. Returns
 * `{ mounted: true }` on 201, or `{ mounted: false, location }` when it opened an ordinary upload
 * session instead (202: mount not allowed or blob not found there).
 */
export async function mountBlob(client: RegistryClient, repository: string, digest: Digest, from: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
  const what = `mount ${digest} from ${from} into ${client.registry}/${repository}`;
  const query = new URLSearchParams({ mount: digest, from });
  const res = await client.send({ method: 'POST', url: `${client.url(`${repository}/blobs/uploads/`)}?${query.toString()}` }, [
    repositoryScope(repository, 'pull,push'),
    repositoryScope(from, 'pull'),
  ]);
  if (res.status === 201) {
    res.body.resume();
    return { mounted: true };
  }
  if (res.status !== 202) throw await responseError(res, what);
  res.body.resume();
  return { mounted: false, location: sessionLocation(client, res, what) };
}

function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

/** One chunk of an upload session: its bytes start at `offset` of the blob. */
interface Chunk {
  location: string;
  offset: number;
  chunk: Buffer;
  scopes: string[];
  what: string;
}

/**
 * The blob offset the registry holds for session `location` (the distribution spec's upload
 * status: 204 with `Range: 0-<last byte>`) and the session's next Location. A session of 0 and
 * of 1 byte both read `0-0` (distribution's way); this reads 0, the only value possible at the
 * start of a chunk larger than 1 byte. E_REGISTRY when the session is gone (404), for another
 * status, or without a Range; throws what `client.send` throws for the request itself.
 */
async function uploadOffset(client: RegistryClient, location: string, scopes: string[], what: string): Promise<{ offset: number; location: string }> {
  const res = await client.send({ method: 'GET', url: location, retry: false }, scopes);
  if (res.status === 404) {
    // distribution, for one, cancels a session whose size differs from its state token (a PATCH cut midway).
    const answer = (await responseError(res, what)).message.replace(/^.*answered /, '');
    throw new CconvError('E_REGISTRY', `${what}: the registry no longer knows the upload session (${answer}), so the failed chunk cannot be resumed`, {
      hint: 'run the command again: the blobs already stored are skipped',
    });
  }
  if (res.status !== 204 && res.status !== 200) throw await responseError(res, `${what}: upload status`);
  res.body.resume();
  const range = /^(?:bytes=)?0-(\d+)$/.exec(headerValue(res.headers.range)?.trim() ?? '');
  if (range === null) throw new CconvError('E_REGISTRY', `${what}: upload status has no Range header`);
  const last = Number(range[1]);
  const next = headerValue(res.headers.location);
  return { offset: last === 0 ? 0 : last + 1, location: next === undefined ? location : new URL(next, client.baseUrl).toString() };
}

/**
 * PATCHes `c.chunk` into the session and returns the session's next Location. A failure a retry
 * may cure (408/429/5xx, 416, a connection reset or refused) is retried, as many times as the
 * client's `retries`, after its backoff (Retry-After honoured): each time the registry's offset
 * is asked first, and only the bytes it lacks are sent (none when the PATCH arrived and only the
 * answer was lost). E_REGISTRY when the registry holds bytes outside this chunk (the session lost
 * acknowledged data); other failures are thrown as they come.
 */
async function patchChunk(client: RegistryClient, c: Chunk): Promise<string> {
  const end = c.offset + c.chunk.length;
  let location = c.location;
  let held = c.offset;
  for (let attempt = 0; ; attempt++) {
    let failed: HttpResponse | undefined;
    if (held === end) return location;
    const range = `${held}-${end - 1}`;
    try {
      const headers = { 'content-type': 'application/octet-stream', 'content-range': range };
      const res = await client.send({ method: 'PATCH', url: location, headers, body: c.chunk.subarray(held - c.offset), retry: false }, c.scopes);
      if (res.status === 202) {
        res.body.resume();
        return sessionLocation(client, res, c.what);
      }
      if (attempt >= client.http.retries || !(isRetryableStatus(res.status) || res.status === 416)) throw await responseError(res, `${c.what} (chunk ${range})`);
      res.body.resume();
      failed = res;
    } catch (err) {
      if (attempt >= client.http.retries || !isRetryableFailure(err)) throw err;
    }
    await sleep(client.http.retryDelay(attempt, failed));
    try {
      ({ offset: held, location } = await uploadOffset(client, location, c.scopes, c.what));
    } catch (err) {
      if (!isRetryableFailure(err)) throw err;
      continue; // unknown: PATCH from the old offset again; a 416 asks once more
    }
    if (held < c.offset || held > end) {
      throw new CconvError('E_REGISTRY', `${c.what}: the registry holds ${held} bytes of the upload, outside the chunk ${c.offset}-${end - 1} being sent; cannot resume`);
    }
  }
}

/** Reads `stream` in chunks of exactly `size` bytes (the last may be shorter). */
async function* chunks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const data of stream) {
    let buf = data as Buffer;
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      buf = buf.subarray(take);
      parts = [];
      held = 0;
    }
    if (buf.length > 0) {
      parts.push(buf);
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/**
 * Uploads `content` as blob `descriptor` into `repository`, checking digest and size in flight
 * (E_DIGEST_MISMATCH / E_SIZE_MISMATCH before the closing PUT, so nothing is committed). The
 * stream is consumed or destroyed. On failure the session is cancelled (best effort).
 */
export async function uploadBlob(client: RegistryClient, repository: string, descriptor: Descriptor, content: Readable, options: UploadOptions = {}): Promise<void> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const what = `upload of ${descriptor.digest} to ${client.registry}/${repository}`;
  const scopes = [repositoryScope(repository, 'pull,push')];
  let location = options.location ?? (await startUpload(client, repository));
  const verified = chain(content, createVerifier(descriptor.digest, { size: descriptor.size, what: `blob ${descriptor.digest}` }));
  let offset = 0;
  try {
    const it = chunks(verified, chunkSize);
    let pending = await it.next();
    while (!pending.done) {
      const chunk = pending.value;
      const following = await it.next(); // reading ahead also runs the verifier's end-of-stream check
      if (following.done && offset === 0) {
        const res = await client.send({ method: 'PUT', url: withDigest(location, descriptor.digest), headers: { 'content-type': 'application/octet-stream' }, body: chunk }, scopes);
        if (res.status !== 201) throw await responseError(res, what);
        res.body.resume();
        options.onBytes?.(chunk.length);
        return;
      }
      location = await patchChunk(client, { location, offset, chunk, scopes, what });
      offset += chunk.length;
      options.onBytes?.(chunk.length);
      pending = following;
    }
    const res = await client.send({ method: 'PUT', url: withDigest(location, descriptor.digest) }, scopes);
    if (res.status !== 201) throw await responseError(res, what);
    res.body.resume();
  } catch (err) {
    verified.destroy();
    await client.send({ method: 'DELETE', url: location, retry: false }, scopes).then((r) => r.body.resume(), () => {});
    throw err;
  }
}
