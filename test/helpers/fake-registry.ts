/**
 * A recording fake of the registry's upload, manifest and blob endpoints (no auth), checking what
 * a real registry checks: contiguous PATCH offsets (416 otherwise), the digest of the closing PUT,
 * and answering the upload status (`GET` on the session: 204, `Range: 0-<last byte>`, as
 * distribution does, `0-0` for an empty session). Faults can be injected into the PATCH requests
 * that start at a given blob offset: a status (with Retry-After), a dropped connection, or a
 * dropped connection after part of the body was stored. Blob GETs go through `onBlobGet` when set.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A fault for one PATCH: answer `status` (with `retryAfter` seconds), drop the connection, or store `keep` bytes then drop it. */
export type PatchFault = { status: number; retryAfter?: string } | { reset: true; keep?: number };

/** Options of `fakeRegistry`. */
export interface FakeOptions {
  /** Faults for the PATCHes whose Content-Range starts at `at`, used one per such PATCH, in order. */
  patchFaults?: { at: number; faults: PatchFault[] };
  /** Serves `GET /v2/<repo>/blobs/<digest>` (after the fake found the blob); default: 200 with the whole blob. */
  onBlobGet?: (req: IncomingMessage, res: ServerResponse, blob: Buffer) => void;
}

/** A running fake; `log` holds one line per request (method, path, markers, Content-Range). */
export interface Fake {
  host: string;
  log: string[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, Buffer>;
  /** When each request arrived (ms since the epoch), parallel to `log`. */
  times: number[];
  close(): Promise<void>;
}

/** Starts a fake on 127.0.0.1; `close()` drops every connection. */
export async function fakeRegistry(options: FakeOptions = {}): Promise<Fake> {
  const log: string[] = [];
  const times: number[] = [];
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Buffer>();
  const sessions = new Map<string, Buffer>();
  const faults = [...(options.patchFaults?.faults ?? [])];
  let n = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const data = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const range = req.headers['content-range'];
    log.push(`${req.method} ${url.pathname}${url.searchParams.has('digest') ? ' digest' : ''}${url.searchParams.has('mount') ? ` mount from=${url.searchParams.get('from')}` : ''}${range ? ` ${range}` : ''}`);
    times.push(Date.now());
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname))) {
      const mount = url.searchParams.get('mount');
      if (mount !== null && url.searchParams.get('from') === 'src/repo' && blobs.has(mount)) return void res.writeHead(201).end();
      const id = `u${++n}`;
      sessions.set(id, Buffer.alloc(0));
      return void res.writeHead(202, { location: `/v2/${m[1]}/blobs/uploads/${id}?_state=0` }).end();
    }
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/(u\d+)$/.exec(url.pathname))) {
      const id = m[2]!;
      const have = sessions.get(id);
      if (have === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
      const next = `/v2/${m[1]}/blobs/uploads/${id}?_state=${have.length}`;
      if (req.method === 'DELETE') return void (sessions.delete(id), res.writeHead(204).end());
      if (req.method === 'GET') return void res.writeHead(204, { location: next, range: `0-${Math.max(0, have.length - 1)}` }).end();
      if (req.method === 'PATCH') {
        const [start, end] = String(range).split('-').map(Number);
        if (start !== have.length || end !== have.length + data.length - 1) return void res.writeHead(416).end();
        const fault = start === options.patchFaults?.at ? faults.shift() : undefined;
        if (fault !== undefined && 'status' in fault) return void res.writeHead(fault.status, fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter }).end();
        if (fault !== undefined) {
          sessions.set(id, Buffer.concat([have, data.subarray(0, fault.keep ?? 0)]));
          return void req.socket.destroy();
        }
        sessions.set(id, Buffer.concat([have, data]));
        return void res.writeHead(202, { location: `/v2/${m[1]}/blobs/uploads/${id}?_state=${end! + 1}` }).end();
      }
      if (req.method === 'PUT') {
        const all = Buffer.concat([have, data]);
        const digest = url.searchParams.get('digest')!;
        if (`sha256:${createHash('sha256').update(all).digest('hex')}` !== digest) {
          return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DIGEST_INVALID","message":"digest did not match"}]}');
        }
        blobs.set(digest, all);
        sessions.delete(id);
        return void res.writeHead(201).end();
      }
    }
    if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)) && (req.method === 'GET' || req.method === 'HEAD')) {
      const blob = blobs.get(m[2]!);
      if (blob === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      if (req.method === 'GET' && options.onBlobGet !== undefined) return void options.onBlobGet(req, res, blob);
      return void res.writeHead(200, { 'content-length': String(blob.length) }).end(req.method === 'GET' ? blob : undefined);
    }
    if ((m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname))) {
      if (req.method === 'PUT') {
        manifests.set(m[2]!, data);
        return void res.writeHead(201).end();
      }
      const doc = manifests.get(m[2]!);
      if (doc === undefined) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      const type = (JSON.parse(doc.toString()) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.index.v1+json';
      return void res.writeHead(200, { 'content-type': type }).end(doc);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, log, times, blobs, manifests, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
