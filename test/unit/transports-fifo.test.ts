/**
 * A FIFO where a local transport expects a regular file (a blob, a manifest, index.json,
 * oci-layout, a docker-archive tar) is refused with a coded error at once. Before, opening one
 * waited for a writer forever, so `inspect`, `measure` and `build` hung. Every call runs under a
 * deadline, serially, so a regression fails instead of hanging, and teardown opens each FIFO for
 * writing (non-blocking) to release a reader stuck in open().
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { copyImage, openDestination, openSource, parseReference } from '../../src/transports/index.ts';
import { cli } from '../helpers/cli.ts';
import { buildLayer, writeOciLayout, type BuiltImage } from '../helpers/oci-builder.ts';

/** Far above what these calls take, even on a loaded machine; a FIFO blocks them forever. */
const DEADLINE_MS = 10_000;

/** `promise`, or a rejection naming `what` once `ms` passed. */
function bounded<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still blocked after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Replaces `path` with a FIFO; teardown releases anything blocked opening it, then removes the dir. */
async function fifoAt(t: { teardown(fn: () => Promise<void>): void }, path: string): Promise<void> {
  await unlink(path);
  execFileSync('mkfifo', [path]);
  t.teardown(async () => release(path));
}

/**
 * Unblocks a reader stuck opening the FIFO `path` (only after a regression): with a reader waiting,
 * a non-blocking writer open succeeds, and closing it gives the reader EOF. Synchronous on
 * purpose: the stuck readers may hold every thread of libuv's pool, so an async open would queue.
 */
function release(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody is reading, nothing to release.
  }
}

async function layout(t: { teardown(fn: () => Promise<void>): void }): Promise<{ dir: string; image: BuiltImage }> {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-fifo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const layer = await buildLayer([{ name: 'app/run', content: 'a layer\n' }], { compression: 'gzip' });
  const image = (await writeOciLayout(join(dir, 'oci'), [{ layers: [layer], tag: 'v1' }])).images[0]!;
  return { dir, image };
}

const blob = (dir: string, digest: string): string => join(dir, 'oci', 'blobs', 'sha256', digest.slice(7));
const source = (dir: string) => openSource(parseReference(`oci:${join(dir, 'oci')}:v1`));

test.serial('a config or manifest blob that is a FIFO: E_BLOB_MISSING, not a hang', async (t) => {
  for (const which of ['config', 'manifest'] as const) {
    const { dir, image } = await layout(t);
    await fifoAt(t, blob(dir, which === 'config' ? image.manifest.config.digest : image.manifestDigest));
    const err = await t.throwsAsync(bounded(source(dir).open(), `open with a FIFO ${which}`), { code: 'E_BLOB_MISSING' });
    t.regex(err!.message, /is a FIFO, not a regular file/);
  }
});

test.serial('index.json or oci-layout that is a FIFO: E_MANIFEST_INVALID, not a hang', async (t) => {
  for (const file of ['index.json', 'oci-layout']) {
    const { dir } = await layout(t);
    await fifoAt(t, join(dir, 'oci', file));
    await t.throwsAsync(bounded(source(dir).open(), `open with a FIFO ${file}`), { code: 'E_MANIFEST_INVALID', message: new RegExp(`${file}( file)? is a FIFO`) });
  }
});

test.serial('a layer blob that is a FIFO: reading it and copying it (kernel copy path) fail with E_BLOB_MISSING', async (t) => {
  const { dir, image } = await layout(t);
  await fifoAt(t, blob(dir, image.manifest.layers[0]!.digest));
  const opened = await bounded(source(dir).open(), 'open');
  try {
    await t.throwsAsync(bounded(opened.layers[0]!.openStored() as Promise<Readable>, 'openStored'), { code: 'E_BLOB_MISSING' });
  } finally {
    await opened.close();
  }
  const dest = openDestination(parseReference(`oci:${join(dir, 'out')}:v1`));
  await t.throwsAsync(bounded(copyImage(source(dir), dest), 'copy to an OCI layout'), { code: 'E_BLOB_MISSING', message: /is a FIFO/ });
});

test.serial('cconv inspect of a layout whose config is a FIFO exits with E_BLOB_MISSING', async (t) => {
  const { dir, image } = await layout(t);
  await fifoAt(t, blob(dir, image.manifest.config.digest));
  const run = await bounded(cli(['inspect', `oci:${join(dir, 'oci')}:v1`]), 'cconv inspect', 3 * DEADLINE_MS); // loads the CLI's modules first
  t.not(run.status, 0);
  t.regex(run.stderr, /E_BLOB_MISSING/);
});

test.serial('a docker-archive that is a FIFO: E_IMAGE_NOT_FOUND, not a hang', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-fifo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'image.tar');
  execFileSync('mkfifo', [file]);
  t.teardown(async () => release(file));
  await t.throwsAsync(bounded(openSource(parseReference(`docker-archive:${file}`)).open(), 'open archive'), { code: 'E_IMAGE_NOT_FOUND', message: /is a FIFO/ });
});
