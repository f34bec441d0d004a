/**
 * An OCI distribution-spec client for one registry: manifests (GET/HEAD/PUT), blobs (GET/HEAD),
 * tags and referrers. Uploads are in upload.ts. Every call authenticates through RegistryAuth
 * (one retry after a 401) and maps failures: 401/403 -> E_AUTH, 404 manifest -> E_IMAGE_NOT_FOUND,
 * 404 blob -> E_BLOB_MISSING, others -> E_REGISTRY with the status and the registry's error code.
 */
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { digestOf, isDigest } from '../../image/digest.ts';
import { MAX_DOCUMENT_BYTES } from '../../image/resolve.ts';
import { readAll } from '../../image/streams.ts';
import { MediaType, type Descriptor, type Digest } from '../../image/types.ts';
import { RegistryAuth, authenticateHeader, readJsonBody, repositoryScope } from './auth.ts';
import { resumableBlob } from './blob-stream.ts';
import type { Credentials } from './credentials.ts';
import { HttpTransport, headerValue, isRetryableError, sleep, type HttpOptions, type HttpRequest, type HttpResponse } from './http.ts';

/** Options of a RegistryClient. */
export interface RegistryClientOptions extends HttpOptions {
  credentials?: Credentials;
  /** Plain http; only accepted for localhost, 127.0.0.1 and [::1]. */
  plainHttp?: boolean;
}

/** The Accept header for manifests: every manifest and index type cconv reads. */
export const MANIFEST_ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

/** A manifest or index as fetched: exact bytes, media type and sha256 digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** The API base URL for a registry host (Docker Hub's API lives at registry-1.docker.io). */
export function registryBaseUrl(registry: string, plainHttp = false): string {
  if (plainHttp && !LOOPBACK.test(registry)) {
    throw new CconvError('E_USAGE', `plain http is only allowed for localhost registries, not ${registry}`, { hint: 'use TLS (add the CA with --cert-file) or --insecure' });
  }
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  return `${plainHttp ? 'http' : 'https'}://${host}`;
}

/** Maps a failed response to a CconvError (reads the body for the registry's error code). */
export async function responseError(res: HttpResponse, what: string, notFound?: 'E_IMAGE_NOT_FOUND' | 'E_BLOB_MISSING'): Promise<CconvError> {
  const body = (await readJsonBody(res.body).catch(() => undefined)) as { errors?: Array<{ code?: unknown; message?: unknown }> } | undefined;
  const first = Array.isArray(body?.errors) ? body.errors[0] : undefined;
  const code = typeof first?.code === 'string' ? first.code : undefined;
  const detail = code !== undefined ? ` ${code}${typeof first?.message === 'string' ? `: ${first.message.slice(0, 200)}` : ''}` : '';
  if (res.status === 404 && notFound !== undefined) return new CconvError(notFound, `${what}: not found (404${detail})`);
  return new CconvError('E_REGISTRY', `${what}: registry answered ${res.status}${detail}`);
}

/** A client for one registry host. `close()` releases its sockets. */
export class RegistryClient {
  readonly registry: string;
  readonly baseUrl: string;
  readonly http: HttpTransport;
  private readonly auth: RegistryAuth;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = registry;
    this.baseUrl = registryBaseUrl(registry, options.plainHttp === true);
    this.http = new HttpTransport(options);
    this.auth = new RegistryAuth(this.http, registry, options.credentials);
  }

  /** `${baseUrl}/v2/${path}`. */
  url(path: string): string {
    return `${this.baseUrl}/v2/${path}`;
  }

  /**
   * Sends a request with authentication for `scopes`; after a 401 learns the challenge and retries
   * once. 401/403 then become E_AUTH. Other statuses are returned for the caller to judge.
   */
  async send(req: HttpRequest, scopes: string[]): Promise<HttpResponse> {
    const withAuth = (header: string | undefined): HttpRequest => (header === undefined ? req : { ...req, headers: { ...req.headers, authorization: header } });
    let res = await this.http.request(withAuth(await this.auth.header(scopes)));
    if (res.status === 401 && !(req.body !== undefined && !Buffer.isBuffer(req.body))) {
      res.body.resume();
      res = await this.http.request(withAuth(await this.auth.onUnauthorized(authenticateHeader(res.headers), scopes)));
    }
    if (res.status === 401 || res.status === 403) {
      const err = await responseError(res, `${req.method} ${new URL(req.url).pathname}`);
      throw this.auth.denied(`access ${res.status === 401 ? 'unauthorized' : 'denied'} (${err.message.replace(/^.*answered /, '')})`);
    }
    return res;
  }

  /**
   * GETs a manifest or index by tag or digest; a digest reference is verified (E_DIGEST_MISMATCH).
   * A body cut by a connection failure is fetched again within the client's retries (E_NETWORK after).
   */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const what = `${this.registry}/${repository}:${reference}`;
    let res: HttpResponse;
    let bytes: Buffer;
    for (let attempt = 0; ; attempt++) {
      res = await this.send({ method: 'GET', url: this.url(`${repository}/manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT } }, [repositoryScope(repository, 'pull')]);
      if (res.status !== 200) throw await responseError(res, `manifest ${what}`, 'E_IMAGE_NOT_FOUND');
      try {
        bytes = await readAll(res.body, MAX_DOCUMENT_BYTES, () => new CconvError('E_MANIFEST_INVALID', `manifest ${what} is over ${MAX_DOCUMENT_BYTES} bytes`));
        break;
      } catch (err) {
        if (err instanceof CconvError) throw err;
        if (!isRetryableError(err) || attempt >= this.http.retries) {
          throw new CconvError('E_NETWORK', `manifest ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} while reading the body`, { cause: err });
        }
        await sleep(this.http.retryDelay(attempt));
      }
    }
    const digest = digestOf(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new CconvError('E_DIGEST_MISMATCH', `manifest ${what}: content has digest ${digest}`);
    }
    return { bytes, mediaType: manifestMediaType(bytes, headerValue(res.headers['content-type'])), digest };
  }

  /** HEADs a manifest; undefined when absent (404). */
  async headManifest(repository: string, reference: string): Promise<{ digest?: Digest; mediaType?: string; size?: number } | undefined> {
    const res = await this.send({ method: 'HEAD', url: this.url(`${repository}/manifests/${reference}`), headers: { accept: MANIFEST_ACCEPT } }, [repositoryScope(repository, 'pull')]);
    res.body.resume();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await responseError(res, `manifest ${this.registry}/${repository}:${reference}`);
    const digest = headerValue(res.headers['docker-content-digest']);
    const length = Number(headerValue(res.headers['content-length']));
    const out: { digest?: Digest; mediaType?: string; size?: number } = {};
    if (isDigest(digest)) out.digest = digest;
    const type = headerValue(res.headers['content-type']);
    if (type !== undefined) out.mediaType = type;
    if (Number.isInteger(length)) out.size = length;
    return out;
  }

  /** PUTs manifest bytes under a tag or digest; returns their digest. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.send(
      { method: 'PUT', url: this.url(`${repository}/manifests/${reference}`), headers: { 'content-type': mediaType }, body: bytes },
      [repositoryScope(repository, 'pull,push')],
    );
    if (res.status !== 201 && res.status !== 200) throw await responseError(res, `PUT manifest ${this.registry}/${repository}:${reference}`);
    res.body.resume();
    return digestOf(bytes);
  }

  /**
   * Opens a blob's raw bytes (unverified; follows redirects to blob storage). E_BLOB_MISSING on
   * 404. A body cut short is resumed with a Range request (blob-stream.ts); E_NETWORK once the
   * client's retries are spent.
   */
  async getBlob(repository: string, descriptor: Descriptor): Promise<Readable> {
    const what = `blob ${descriptor.digest} in ${this.registry}/${repository}`;
    const url = this.url(`${repository}/blobs/${descriptor.digest}`);
    const open = async (from: number): Promise<HttpResponse> => {
      const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
      const res = await this.send({ method: 'GET', url, headers, followRedirects: true }, [repositoryScope(repository, 'pull')]);
      if (res.status !== 200 && !(from > 0 && res.status === 206)) throw await responseError(res, what, 'E_BLOB_MISSING');
      return res;
    };
    return resumableBlob(await open(0), descriptor.size, { what, open, retries: this.http.retries, delay: (attempt) => this.http.retryDelay(attempt) });
  }

  /** True when the repository has the blob (HEAD 200); false on 404. */
  async hasBlob(repository: string, digest: Digest, actions: 'pull' | 'pull,push' = 'pull'): Promise<boolean> {
    const res = await this.send({ method: 'HEAD', url: this.url(`${repository}/blobs/${digest}`), followRedirects: true }, [repositoryScope(repository, actions)]);
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, `HEAD blob ${digest} in ${this.registry}/${repository}`);
  }

  /** All tags of a repository, following `Link` pagination. */
  async listTags(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = this.url(`${repository}/tags/list`);
    for (let page = 0; next !== undefined && page < 1000; page++) {
      const res = await this.send({ method: 'GET', url: next }, [repositoryScope(repository, 'pull')]);
      if (res.status !== 200) throw await responseError(res, `tags of ${this.registry}/${repository}`, 'E_IMAGE_NOT_FOUND');
      const doc = (await readJsonBody(res.body)) as { tags?: unknown } | undefined;
      if (Array.isArray(doc?.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(headerValue(res.headers.link) ?? '');
      next = link ? new URL(link[1]!, this.baseUrl).toString() : undefined;
    }
    return tags;
  }

  /** Releases the client's sockets. */
  close(): void {
    this.http.close();
  }
}

/** The media type of a fetched manifest: Content-Type when specific, else the document's `mediaType` field. */
export function manifestMediaType(bytes: Buffer, contentType: string | undefined): string {
  const type = contentType?.split(';')[0]?.trim();
  if (type !== undefined && type !== '' && type !== 'application/json' && type !== 'text/plain' && type !== 'application/octet-stream') return type;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  } catch {
    return type ?? MediaType.OciManifest;
  }
}
