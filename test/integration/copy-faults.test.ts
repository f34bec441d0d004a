/**
 * `cconv copy` faults that must leave nothing half-written: a registry serving a manifest over the
 * 32 MiB cap (a tiny local server speaking /v2/) is refused with E_MANIFEST_INVALID; a source whose
 * second layer is corrupt fails with E_DIGEST_MISMATCH after the first layer was written, and the
 * OCI layout destination keeps its index.json and its blob set, a new layout is not created, and a
 * docker-archive destination leaves no file.
 */
import test from 'ava';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensureFixtures, type FixtureSet } from '../../fixtures/build.ts';
import { MAX_DOCUMENT_BYTES } from '../../src/image/resolve.ts';
import { cli } from '../helpers/cli.ts';
import { buildLayer, writeOciLayout, type BuiltImage } from '../helpers/oci-builder.ts';

let fixtures: FixtureSet;
let work: string;
let corrupt: string;
let corruptImage: BuiltImage;

test.before(async () => {
  fixtures = await ensureFixtures();
  work = await mkdtemp(join(tmpdir(), 'cconv-copyfault-'));
  corrupt = join(work, 'corrupt');
  const good = await buildLayer([{ name: 'good.txt', content: 'a good layer, written before the bad one\n' }], { compression: 'gzip' });
  const bad = await buildLayer([{ name: 'bad.txt', content: 'this layer is stored with one byte flipped\n' }]);
  corruptImage = (await writeOciLayout(corrupt, [{ layers: [good, bad], tag: 'v1' }])).images[0]!;
  const flipped = Buffer.from(bad.bytes);
  flipped[600] = flipped[600]! ^ 0xff; // inside the file content, after the 512-byte header
  await writeFile(join(corrupt, 'blobs', 'sha256', bad.digest.slice(7)), flipped);
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every path under `dir`, sorted. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

/** Runs a copy expected to fail: exit status, error code, and the progress lines (stderr). */
async function failed(args: string[]): Promise<{ status: number; code: string; progress: string }> {
  const run = await cli(['copy', ...args], { DOCKER_CONFIG: work });
  return { status: run.status, code: /cconv: error (E_[A-Z_]+)/.exec(run.stderr)?.[1] ?? run.stderr, progress: run.stderr };
}

async function failedCode(args: string[]): Promise<{ status: number; code: string }> {
  const { status, code } = await failed(args);
  return { status, code };
}

test('a manifest over the cap is refused with E_MANIFEST_INVALID and nothing is written', async (t) => {
  let sent = 0;
  const server = createServer((req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (req.url !== '/v2/big/img/manifests/1') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    // Up to twice the cap, one MiB at a time, produced only as fast as the client reads.
    const chunk = Buffer.alloc(1 << 20, 0x20);
    const body = Readable.from((function* () {
      yield Buffer.from('{"schemaVersion":2,');
      while (sent < 2 * MAX_DOCUMENT_BYTES) {
        sent += chunk.length;
        yield chunk;
      }
    })());
    pipeline(body, res).catch(() => {}); // the client hangs up at the cap
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const dest = join(work, 'never-created');
  try {
    t.deepEqual(await failedCode([`docker://${host}/big/img:1`, `oci:${dest}:x`, '--plain-http']), { status: 4, code: 'E_MANIFEST_INVALID' });
    t.true(sent < 2 * MAX_DOCUMENT_BYTES, 'the client read past the cap');
    await t.throwsAsync(readdir(dest), { code: 'ENOENT' });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a failed copy into an existing OCI layout leaves index.json and the blobs as they were', async (t) => {
  const dest = join(work, 'layout');
  const ok = await cli(['copy', `oci:${fixtures.path('hello', 'oci')}:latest`, `oci:${dest}:hello`], { DOCKER_CONFIG: work });
  t.is(ok.status, 0, ok.stderr);
  const index = await readFile(join(dest, 'index.json'));
  const before = await tree(dest);
  const run = await failed([`oci:${corrupt}:v1`, `oci:${dest}:hello`]);
  t.deepEqual({ status: run.status, code: run.code }, { status: 4, code: 'E_DIGEST_MISMATCH' });
  // The good first layer was written before the bad one failed, and removed again.
  t.true(run.progress.includes(`Copying blob ${corruptImage.manifest.layers[0]!.digest.slice(0, 19)}: done`), run.progress);
  t.deepEqual(await readFile(join(dest, 'index.json')), index);
  t.deepEqual(await tree(dest), before);
});

test('a failed copy into a new OCI layout creates nothing', async (t) => {
  const dest = join(work, 'new-layout');
  t.deepEqual(await failedCode([`oci:${corrupt}:v1`, `oci:${dest}:v1`]), { status: 4, code: 'E_DIGEST_MISMATCH' });
  await t.throwsAsync(readdir(dest), { code: 'ENOENT' });
});

test('a failed copy into a docker-archive leaves no file', async (t) => {
  const dir = join(work, 'archive');
  await mkdir(dir);
  t.deepEqual(await failedCode([`oci:${corrupt}:v1`, `docker-archive:${join(dir, 'out.tar')}:app:1`]), { status: 4, code: 'E_DIGEST_MISMATCH' });
  t.deepEqual(await readdir(dir), []);
});
