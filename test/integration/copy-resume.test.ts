/**
 * Registry down mid-push, then resumed. The test runs its own Debian docker-registry (plain HTTP,
 * no auth; own process so it can be killed and restarted on the same storage) behind a TCP relay.
 * cconv copies blobs in parallel lanes (small1, small2 and the big layer start together, the config
 * follows in a lane freed by a small one). Once half of the big layer went through one connection,
 * the relay stops reading that connection, waits until the small layers and the config are stored
 * (so the cut point does not depend on lane timing), then SIGKILLs the registry and drops every
 * connection. `cconv copy` must fail with E_NETWORK and no tag may exist; after a restart the same
 * command skips exactly the blobs stored before the kill and uploads the big layer again.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CopyCommandResult } from '../../src/cli/commands/copy.ts';
import { cli } from '../helpers/cli.ts';
import { buildLayer, writeOciLayout, type OciLayoutResult } from '../helpers/oci-builder.ts';
import { freePort } from '../helpers/registry.ts';

const BIG = 48 << 20;
let work: string;
let layout: OciLayoutResult;
let registryPort: number;
let relayPort: number;
let registry: ChildProcess | undefined;
let relay: Server | undefined;
let killed: Promise<void> = Promise.resolve();

/** Status of a request to the registry itself (not through the relay); 0 when nothing answers. */
function status(method: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    // Without an OCI Accept header docker-registry answers 404 for OCI manifests.
    const headers = { accept: 'application/vnd.oci.image.manifest.v1+json' };
    const req = request({ host: '127.0.0.1', port: registryPort, method, path, headers, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Starts the registry and waits until it answers; respawns while the port is still held by the killed one. */
async function startRegistryProcess(): Promise<void> {
  await killed;
  for (let i = 0; i < 200; i++) {
    if (registry === undefined || registry.exitCode !== null) {
      registry = spawn('/usr/bin/docker-registry', ['serve', join(work, 'config.yml')], { stdio: ['ignore', 'ignore', 'ignore'] });
    }
    if ((await status('GET', '/v2/')) === 200) return;
    await sleep(50);
  }
  throw new Error('docker-registry did not start');
}

async function killRegistry(): Promise<void> {
  const child = registry;
  registry = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Resolves once every digest is stored in the registry (asked directly), or after ~10 s. */
async function waitStored(repository: string, digests: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const codes = await Promise.all(digests.map((d) => status('HEAD', `/v2/${repository}/blobs/${d}`)));
    if (codes.every((c) => c === 200)) return;
    await sleep(50);
  }
}

/**
 * A TCP relay to the registry. With `cut`: once one connection carried `cut.after` bytes from the
 * client, that connection is no longer read, and when `cut.stored` are all in the registry the
 * registry is killed and every connection dropped.
 */
async function startRelay(cut?: { after: number; repository: string; stored: string[] }): Promise<void> {
  const sockets = new Set<Socket>();
  let cutting = false;
  const server = createServer((client) => {
    const upstream = createConnection(registryPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    let sent = 0;
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (cut === undefined || cutting || sent < cut.after) return;
      cutting = true;
      client.unpipe(upstream);
      client.pause();
      killed = (async () => {
        await waitStored(cut.repository, cut.stored);
        relay = undefined;
        server.close();
        for (const s of sockets) s.destroy();
        await killRegistry();
      })();
    });
    client.pipe(upstream).pipe(client);
  });
  relay = server;
  await new Promise<void>((resolve) => server.listen(relayPort, '127.0.0.1', resolve));
}

test.before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cconv-resume-'));
  [registryPort, relayPort] = [await freePort(), await freePort()];
  await writeFile(join(work, 'config.yml'), [
    'version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(work, 'storage')}`,
    'http:', `  addr: 127.0.0.1:${registryPort}`, '  secret: cconv-test-secret', '',
  ].join('\n'));
  const small1 = await buildLayer([{ name: 'one.txt', content: 'first small layer\n' }], { compression: 'gzip' });
  const small2 = await buildLayer([{ name: 'two.txt', content: 'second small layer\n' }], { compression: 'gzip' });
  const big = await buildLayer([{ name: 'big.bin', content: randomBytes(BIG) }]);
  layout = await writeOciLayout(join(work, 'layout'), [{ layers: [small1, small2, big], tag: 'v1' }]);
});

test.after.always(async () => {
  relay?.close();
  await killRegistry();
  if (work) await rm(work, { recursive: true, force: true });
});

test('registry killed mid-push: E_NETWORK, no tag; after a restart the re-run skips what was stored', async (t) => {
  const image = layout.images[0]!;
  const [small1, small2, big] = image.manifest.layers.map((l) => l.digest);
  const config = image.manifest.config.digest;
  await startRegistryProcess();
  // Cut once the small layers and the config are in and half of the large layer was sent.
  await startRelay({ after: BIG / 2, repository: 'resume/app', stored: [small1!, small2!, config] });
  const args = ['copy', `oci:${join(work, 'layout')}:v1`, `docker://127.0.0.1:${relayPort}/resume/app:1`, '--plain-http', '--json'];
  const env = { DOCKER_CONFIG: work };

  const failed = await cli(args, env);
  t.is(failed.status, 5, failed.stderr);
  t.is((JSON.parse(failed.stdout) as { error: { code: string } }).error.code, 'E_NETWORK');
  await killed;
  t.is(registry, undefined, 'the relay killed the registry');

  await startRegistryProcess();
  await startRelay();
  t.is(await status('HEAD', '/v2/resume/app/manifests/1'), 404, 'a tag exists after the failed push');
  const stored = async (d: string) => (await status('HEAD', `/v2/resume/app/blobs/${d}`)) === 200;
  for (const d of [small1!, small2!, config]) t.true(await stored(d), `${d} stored before the kill`);
  t.false(await stored(big!), 'the large layer was cut mid-upload');

  const resumed = await cli(args, env);
  t.is(resumed.status, 0, resumed.stderr);
  const result = JSON.parse(resumed.stdout) as CopyCommandResult;
  t.is(result.digest, image.manifestDigest);
  // The re-run skips the three blobs stored before the kill and uploads only the large layer.
  t.is(result.skipped, 3);
  t.is(result.copied, 1);
  t.true(await stored(big!));
  t.is(await status('HEAD', '/v2/resume/app/manifests/1'), 200);
});
