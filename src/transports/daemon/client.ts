/**
 * The Docker Engine API as the daemon transport uses it: `DockerClient` is the subset of dockerode
 * called here (so unit tests pass a fake), `connectDocker` builds a real one from DOCKER_HOST
 * (unix:// or tcp://), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, and `daemonError` turns dockerode
 * failures into CconvErrors.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { CconvError } from '../../errors.ts';

/** The image operations of dockerode the daemon transport calls. */
export interface DockerImageHandle {
  inspect(): Promise<{ Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null }>;
  /** A `docker save` tar of the image. */
  get(): Promise<NodeJS.ReadableStream>;
}

/** The subset of dockerode the daemon transport calls. */
export interface DockerClient {
  getImage(name: string): DockerImageHandle;
  /** Streams a `docker save` tar into the daemon; resolves with the JSON-lines progress stream. */
  loadImage(file: NodeJS.ReadableStream, options?: { quiet?: boolean }): Promise<NodeJS.ReadableStream>;
}

/** Connection options as dockerode takes them. */
export interface DockerConnection {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Where the daemon is, from DOCKER_HOST (default unix:///var/run/docker.sock) and the TLS variables. */
export function dockerConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): DockerConnection {
  const host = env.DOCKER_HOST ?? '';
  if (host === '' || host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || '/var/run/docker.sock' };
  const m = /^(?:tcp|https?):\/\/([^/:]+|\[[0-9a-fA-F:]+\]):(\d+)\/?$/.exec(host);
  if (m === null) {
    throw new CconvError('E_USAGE', `DOCKER_HOST=${JSON.stringify(host)} is not unix:///PATH or tcp://HOST:PORT`);
  }
  const tls = (env.DOCKER_TLS_VERIFY ?? '') !== '' && env.DOCKER_TLS_VERIFY !== '0';
  const conn: DockerConnection = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), protocol: tls || m[2] === '2376' ? 'https' : 'http' };
  if (conn.protocol === 'https') {
    const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
    try {
      conn.ca = readFileSync(join(dir, 'ca.pem'));
      conn.cert = readFileSync(join(dir, 'cert.pem'));
      conn.key = readFileSync(join(dir, 'key.pem'));
    } catch (err) {
      throw new CconvError('E_DAEMON', `cannot read the Docker TLS files in ${dir} (ca.pem, cert.pem, key.pem)`, {
        cause: err,
        hint: 'set DOCKER_CERT_PATH to the directory holding them, or unset DOCKER_TLS_VERIFY',
      });
    }
  }
  return conn;
}

/** A dockerode client for `conn` (default: from the environment). */
export function connectDocker(conn: DockerConnection = dockerConnectionFromEnv()): DockerClient {
  return new Docker(conn) as unknown as DockerClient;
}

const DOWN = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'ENOTFOUND', 'EPIPE']);

/**
 * Maps a dockerode/socket error to a CconvError: 404 -> E_IMAGE_NOT_FOUND (for `name`), socket
 * missing or refused -> E_DAEMON with a hint to start Docker, EACCES -> E_DAEMON with a permission
 * hint, anything else -> E_DAEMON with the daemon's message.
 */
export function daemonError(err: unknown, action: string, name?: string): CconvError {
  if (err instanceof CconvError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; json?: { message?: string } };
  const said = typeof e.json?.message === 'string' ? e.json.message : (e.message ?? String(err)).slice(0, 300);
  if (e.statusCode === 404 && name !== undefined) {
    return new CconvError('E_IMAGE_NOT_FOUND', `no image ${name} in the Docker daemon`, { cause: err, hint: 'list images with `docker images`, or fetch it with `docker pull`' });
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new CconvError('E_DAEMON', `${action}: permission denied on the Docker socket`, {
      cause: err,
      hint: 'add your user to the docker group (then log in again), or run with access to the socket',
    });
  }
  if (e.code !== undefined && DOWN.has(e.code)) {
    return new CconvError('E_DAEMON', `${action}: cannot reach the Docker daemon (${e.code})`, {
      cause: err,
      hint: 'start Docker (e.g. `systemctl start docker`) or point DOCKER_HOST at a running daemon',
    });
  }
  return new CconvError('E_DAEMON', `${action}: ${said}`, { cause: err });
}
