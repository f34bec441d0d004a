/**
 * Blob uploads (distribution spec "pushing blobs"): POST to open a session, then either one
 * monolithic `PUT ?digest=` (blob no larger than one chunk) or `PATCH` chunks with Content-Range
 * followed by a closing `PUT ?digest=`. Also cross-repository mounts. At most one chunk
 * (`chunkSize` bytes) is held in memory; each chunk request can be retried on its own.
 */
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { createVerifier } from '../../image/digest.ts';
import type { Descriptor, Digest } from '../../image/types.ts';
import { chain } from '../../image/streams.ts';
import { repositoryScope } from './auth.ts';
import { responseError, type RegistryClient } from './client.ts';
import { headerValue, type HttpResponse } from './http.ts';

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
      const range = `${offset}-${offset + chunk.length - 1}`;
      const res = await client.send({ method: 'PATCH', url: location, headers: { 'content-type': 'application/octet-stream', 'content-range': range }, body: chunk, retry: false }, scopes);
      if (res.status !== 202) throw await responseError(res, `${what} (chunk ${range})`);
      res.body.resume();
      location = sessionLocation(client, res, what);
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
