/**
 * A private Docker daemon for integration tests: its own data root, exec root and unix socket under
 * a fresh /tmp/cconv-dXXXX (short, as unix socket paths are limited to ~107 bytes), the vfs storage
 * driver, no iptables and no bridge, so it never touches the host's Docker or network.
 *
 * Use `sharedDockerd(test)` in a test file: the daemon starts on first use and `test.after.always`
 * stops it. Ava runs each file in its own process, so each file gets its own daemon.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestFn } from 'ava';

/** A running private daemon. */
export interface Dockerd {
  /** Absolute path of the daemon's unix socket. */
  readonly socketPath: string;
  /** `unix://<socketPath>`, for DOCKER_HOST. */
  readonly dockerHost: string;
  /** The temp dir holding everything the daemon writes. */
  readonly dir: string;
  /**
   * Runs the docker CLI against this daemon (DOCKER_HOST set, no user config). Resolves with stdout
   * as a Buffer; rejects with an Error carrying the exit status and stderr.
   */
  docker(args: readonly string[], options?: { maxBuffer?: number }): Promise<Buffer>;
  /** SIGTERM, wait up to 10 s, SIGKILL; then unmounts anything left under `dir` and removes it. Idempotent. */
  stop(): Promise<void>;
}

/** Options of `startDockerd`. */
export interface StartDockerdOptions {
  /** How long to wait for `GET /_ping` to answer OK; default 20 000 ms. */
  timeoutMs?: number;
  /** dockerd binary; default `dockerd` from PATH. */
  dockerdPath?: string;
  /** docker CLI binary; default `docker` from PATH. */
  dockerPath?: string;
}

/** Starts a private daemon and waits until it answers `/_ping`. Rejects (after cleaning up) on failure. */
export async function startDockerd(options: StartDockerdOptions = {}): Promise<Dockerd> {
  const dir = await mkdtemp('/tmp/cconv-d');
  const dataRoot = `${dir}/data`;
  const execRoot = `${dir}/exec`;
  const pidFile = `${dir}/dockerd.pid`;
  const socketPath = `${dir}/d.sock`;
  const configFile = `${dir}/daemon.json`;
  const logFile = `${dir}/dockerd.log`;
  const cliConfigDir = `${dir}/cli`;
  await Promise.all([mkdir(dataRoot), mkdir(execRoot), mkdir(cliConfigDir)]);
  await writeFile(configFile, '{}\n');
  await writeFile(`${cliConfigDir}/config.json`, '{}\n');

  const log = await open(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      options.dockerdPath ?? 'dockerd',
      [
        '--data-root', dataRoot,
        '--exec-root', execRoot,
        '--pidfile', pidFile,
        '-H', `unix://${socketPath}`,
        '--storage-driver=vfs',
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--config-file', configFile,
      ],
      { stdio: ['ignore', log.fd, log.fd], detached: false },
    );
  } finally {
    await log.close();
  }
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = signal === null ? `exit status ${code}` : `signal ${signal}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = `spawn error: ${err.message}`;
      resolve();
    });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (exited === undefined && child.pid !== undefined) {
      child.kill('SIGTERM');
      const done = await Promise.race([exitPromise.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exitPromise;
        // dockerd's own containerd outlives a SIGKILLed parent; stop it by its pid file too.
        const pid = Number((await readFile(`${execRoot}/containerd/containerd.pid`, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(pid) && pid > 1) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: cliConfigDir };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  const docker = (args: readonly string[], opts: { maxBuffer?: number } = {}): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      execFile(
        options.dockerPath ?? 'docker',
        [...args],
        { env, encoding: 'buffer', maxBuffer: opts.maxBuffer ?? 64 << 20 },
        (err, stdout, stderr) => {
          if (err) {
            const msg = `docker ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr.toString().trim()}`;
            reject(Object.assign(new Error(msg, { cause: err }), { stderr: stderr.toString() }));
          } else resolve(stdout);
        },
      );
    });

  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (await ping(socketPath)) break;
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited === undefined ? 'did not answer /_ping in time' : `exited (${exited})`;
      const tail = await logTail(logFile);
      await stop();
      throw new Error(`private dockerd ${why}; last log lines:\n${tail}`);
    }
    await sleep(100);
  }
  return { socketPath, dockerHost: `unix://${socketPath}`, dir, docker, stop };
}

/**
 * Registers a lazily started daemon shared by all tests of the calling file and stops it in
 * `test.after.always`. Call once at the top level of a test file; `get()` starts it on first call.
 */
export function sharedDockerd<C>(test: TestFn<C>, options: StartDockerdOptions = {}): () => Promise<Dockerd> {
  let started: Promise<Dockerd> | undefined;
  test.after.always('stop private dockerd', async () => {
    if (started === undefined) return;
    const d = await started.catch(() => undefined);
    await d?.stop();
  });
  return () => (started ??= startDockerd(options));
}

/** `docker run --rm --network none TAG` on `d`: its stdout, or its exit status and stderr. */
export async function dockerRun(d: Dockerd, tag: string): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    return { status: 0, stdout: (await d.docker(['run', '--rm', '--network', 'none', tag])).toString(), stderr: '' };
  } catch (err) {
    const e = err as Error & { stderr?: string; cause?: { code?: number } };
    return { status: e.cause?.code ?? -1, stdout: '', stderr: e.stderr ?? '' };
  }
}

/** True when GET /_ping on the unix socket answers 200 OK. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The last `lines` lines of the daemon's log, for error messages. */
async function logTail(logFile: string, lines = 30): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '(no log)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Lazily unmounts every mount point at or below `dir`, deepest first (from /proc/self/mountinfo). */
async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    await new Promise<void>((resolve) => execFile('umount', ['-l', p], () => resolve()));
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal `\ooo`. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
