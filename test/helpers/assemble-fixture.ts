/**
 * Shared inputs of the assembler tests: a small app image and a small runtime image written as
 * OCI layouts (test/helpers/oci-builder.ts), opened and flattened for real, plus the assemble
 * input built over them. Plaintexts are 2 KiB of sha256-chained bytes, so any 32-byte window of
 * them is unique and findable.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { AssembleInput } from '../../src/assemble/index.ts';
import type { Image } from '../../src/image/image.ts';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/types.ts';
import { OciLayoutSource } from '../../src/transports/index.ts';
import { buildLayer, writeOciLayout, type TarEntry } from '../helpers/oci-builder.ts';
import { readTar } from '../../src/rootfs/tar-reader.ts';

/** 2000-01-01T00:00:00Z. */
export const EPOCH = 946684800;
export const PKGLIBDIR = 'usr/lib/x86_64-linux-gnu/gramine';

/** `n` bytes of a sha256 chain seeded by `seed`. */
export function chainBytes(seed: string, n = 2048): Buffer {
  const out: Buffer[] = [];
  let h = createHash('sha256').update(seed).digest();
  for (let len = 0; len < n; len += 32) {
    out.push(h);
    h = createHash('sha256').update(h).digest();
  }
  return Buffer.concat(out).subarray(0, n);
}

export const SECRET_V0 = chainBytes('secret v0');
export const SECRET_V1 = chainBytes('secret v1');
export const CIPHERTEXT = chainBytes('ciphertext', 3000);

/** A fresh temp dir removed at teardown. */
export async function tempDir(t: { teardown(fn: () => Promise<void>): void }, prefix = 'cconv-asm-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The app: layer 0 holds /app/secret.key (v0), layer 1 shadows it (v1), layer 2 (uncompressed blob) does not hold it. */
export function appLayers(extra: TarEntry[] = []): Promise<Awaited<ReturnType<typeof buildLayer>>[]> {
  return Promise.all([
    buildLayer([
      { name: 'app/', type: 'directory', uid: 1000, gid: 1000, mode: 0o750 },
      { name: 'app/run', content: '#!/bin/run\n', mode: 0o755, uid: 1000, gid: 1000 },
      { name: 'app/secret.key', content: SECRET_V0, mode: 0o600, uid: 1000, gid: 1001 },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n' },
      ...extra,
    ], { compression: 'gzip' }),
    buildLayer([
      { name: 'app/secret.key', content: SECRET_V1, mode: 0o600, uid: 1000, gid: 1001 },
      { name: 'app/data.txt', content: 'data\n' },
    ], { compression: 'gzip' }),
    buildLayer([{ name: 'app/other.txt', content: 'other\n' }]),
  ]);
}

export const APP_CONFIG = {
  config: {
    User: 'app',
    Env: ['PATH=/usr/bin:/bin', 'LD_PRELOAD=/usr/lib/libjemalloc.so.2', 'GREETING=hi'], // LD_* never reaches the output's Env
    Entrypoint: ['/app/run'],
    Cmd: ['--greet', 'world'],
    WorkingDir: '/app',
    ExposedPorts: { '8080/tcp': {} },
    Labels: { 'com.example.z': 'z', 'com.example.a': 'a' },
    Healthcheck: { Test: ['CMD-SHELL', 'true'] },
  },
  history: [{ created: '2000-01-01T00:00:00Z', created_by: 'layer 0' }, { created_by: 'ENV', empty_layer: true }, { created_by: 'layer 1', comment: 'c1' }, { created_by: 'layer 2' }],
};

/**
 * The runtime image: a distro (bin/sh, etc/os-release, usr/bin/ls) plus Gramine under pkglibdir
 * with a link out of it (to a two-link chain in the distro's libdir, as Gramine's mbedTLS links)
 * and a dangling one; layer 1 replaces libsysdb.so and adds `extra`.
 */
export function runtimeLayers(extra: TarEntry[] = []): Promise<Awaited<ReturnType<typeof buildLayer>>[]> {
  const g = PKGLIBDIR;
  return Promise.all([
    buildLayer([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/sh', content: 'distro shell\n', mode: 0o755 },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', content: 'ID=debian\n' },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/bin/', type: 'directory' },
      { name: 'usr/bin/gramine-sgx', content: 'loader\n', mode: 0o755 },
      { name: 'usr/bin/ls', content: 'ls\n', mode: 0o755 },
      { name: 'usr/lib/', type: 'directory' },
      { name: 'usr/lib/x86_64-linux-gnu/', type: 'directory' },
      { name: 'usr/lib/x86_64-linux-gnu/libc.so.6', content: 'distro libc\n' },
      { name: 'usr/lib/x86_64-linux-gnu/libmbedcrypto_gramine.so.16', type: 'symlink', linkname: 'libmbedcrypto_gramine.so.3.6.0' },
      { name: 'usr/lib/x86_64-linux-gnu/libmbedcrypto_gramine.so.3.6.0', content: 'mbedcrypto\n', mode: 0o640 },
      { name: `${g}/`, type: 'directory' },
      { name: `${g}/libsysdb.so`, content: 'old libsysdb\n', mode: 0o755 },
      { name: `${g}/sgx/`, type: 'directory', mode: 0o700 },
      { name: `${g}/sgx/libpal.so`, content: 'libpal\n', mode: 0o755, uid: 7, gid: 8 },
      { name: `${g}/runtime/`, type: 'directory' },
      { name: `${g}/runtime/glibc/`, type: 'directory' },
      { name: `${g}/runtime/glibc/ld-linux-x86-64.so.2`, content: 'ld\n' },
      { name: `${g}/runtime/glibc/ld.so`, type: 'symlink', linkname: 'ld-linux-x86-64.so.2' },
      { name: `${g}/runtime/glibc/libc.so.6`, content: 'gramine libc\n' },
      { name: `${g}/runtime/glibc/libc6-link`, type: 'link', linkname: `${g}/runtime/glibc/libc.so.6` },
      { name: `${g}/runtime/glibc/libmbedcrypto_gramine.so.16`, type: 'symlink', linkname: '../../../libmbedcrypto_gramine.so.16' },
      { name: `${g}/runtime/glibc/nowhere.so`, type: 'symlink', linkname: '../../../nowhere.so' },
      { name: `${g}/sgx/loader`, content: 'loader\n', mode: 0o755 },
    ], { compression: 'gzip' }),
    buildLayer([{ name: `${g}/libsysdb.so`, content: 'new libsysdb\n', mode: 0o755 }, ...extra], { compression: 'gzip' }),
  ]);
}

/** Writes an image as an OCI layout under `dir` and opens it. */
export async function openLayout(dir: string, layers: Awaited<ReturnType<typeof buildLayer>>[], config: Record<string, unknown> = {}): Promise<Image> {
  await writeOciLayout(dir, [{ layers, config, tag: 'latest' }]);
  return new OciLayoutSource({ transport: 'oci', dir, tag: 'latest' }).open();
}

/** Opened and flattened app and runtime images. */
export interface Opened {
  app: Image;
  appRoot: Rootfs;
  runtime: Image;
  runtimeRoot: Rootfs;
  ciphertextFile: string;
  work: string;
}

/** Builds both images into `dir` and opens them; `extra` adds members to app layer 0, `runtimeExtra` to runtime layer 1. */
export async function openBoth(dir: string, extra: TarEntry[] = [], runtimeExtra: TarEntry[] = []): Promise<Opened> {
  const app = await openLayout(join(dir, 'app'), await appLayers(extra), APP_CONFIG);
  const runtime = await openLayout(join(dir, 'runtime'), await runtimeLayers(runtimeExtra));
  const ciphertextFile = join(dir, 'secret.key.pf');
  await writeFile(ciphertextFile, CIPHERTEXT);
  const work = join(dir, 'work');
  await mkdir(work, { recursive: true });
  return { app, appRoot: await flatten(app), runtime, runtimeRoot: await flatten(runtime), ciphertextFile, work };
}

export const IDENTITY = { mrenclave: 'ab'.repeat(32), mrsigner: 'cd'.repeat(32), isvProdId: 7, isvSvn: 3, debug: false };

/** The assemble input over opened images. */
export function inputFor(o: Opened, overrides: Partial<AssembleInput> = {}): AssembleInput {
  return {
    source: o.app,
    sourceRootfs: o.appRoot,
    sourceRef: 'oci:app:latest',
    runtime: {
      rootfs: o.runtimeRoot,
      paths: [`/${PKGLIBDIR}`],
      added: [
        { path: `/${PKGLIBDIR}/sgx/loader`, content: Buffer.from('patched loader\n'), mode: 0o755 },
        { path: `/${PKGLIBDIR}/sgx/host/libc.so.6`, content: Buffer.from('host libc\n'), mode: 0o644 },
      ],
    },
    encrypted: [{ path: '/app/secret.key', ciphertextFile: o.ciphertextFile, size: CIPHERTEXT.length }],
    files: [
      { path: '/cconv/app.manifest.sgx', content: Buffer.from('manifest bytes\n'), mode: 0o444 },
      { path: '/cconv/app.sig', content: Buffer.alloc(1808, 1), mode: 0o444 },
      { path: '/cconv/app.argv', content: Buffer.from('/app/run\0--greet\0world\0'), mode: 0o444 },
    ],
    createDirs: ['/srv/work'],
    entrypoint: [`/${PKGLIBDIR}/sgx/loader`, `/${PKGLIBDIR}/sgx/libpal.so`, 'init', '/cconv/app'],
    identity: IDENTITY,
    runtimeInfo: { name: 'gramine', version: '1.9' },
    epoch: EPOCH,
    tmpDir: o.work,
    ...overrides,
  };
}

/** Reads a whole stream. */
export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The members of a tar (gzip or not): name, type, mode, uid, gid, mtime, linkname, content. */
export async function tarMembers(blob: Buffer): Promise<Array<{ name: string; type: string; mode: number; uid: number; gid: number; mtime: number; linkname: string; content: Buffer }>> {
  const tar = blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
  const out = [];
  for await (const e of readTar(Readable.from([tar]))) {
    const content = await readAll(e.body());
    out.push({ name: e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, linkname: e.linkname, content });
  }
  return out;
}

/** Entries of a directory (empty when it does not exist). */
export async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
