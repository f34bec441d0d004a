/**
 * Encryption alone, for issue 5's throughput target: the protected-file encoding of the image's
 * regular files (same sizes as in the image, content from a random buffer: AES timing does not
 * depend on the bytes) into one spool file at precomputed offsets, with the in-flight bound cconv
 * build uses. Unlike the `encrypt` stage, the layers are not re-read, so this is the cost of the
 * format on top of Node's AES-GCM (limit/node-aes-per-node), and against `openssl speed -evp
 * aes-128-gcm`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptAt, encryptedSize } from '../src/encrypt/index.ts';
import { ENCRYPT_BUFFER_MAX, ENCRYPT_CONCURRENCY } from '../src/pipeline/encrypt.ts';
import { flatten } from '../src/rootfs/index.ts';
import { openSource, parseReference } from '../src/transports/index.ts';
import type { StageArgs, StageOutput } from './stages.ts';

/** `encrypt-pf`: args `ref` (the image) and `out` (a work dir, removed afterwards). */
export async function encryptPf(a: StageArgs): Promise<StageOutput> {
  const image = await openSource(parseReference(String(a.ref))).open();
  let sizes: number[];
  try {
    const rootfs = await flatten(image, { hash: false });
    sizes = [...rootfs.entries()].filter((e) => e.type === 'file').map((e) => e.size);
  } finally {
    await image.close();
  }
  const out = String(a.out);
  await mkdir(out, { recursive: true });
  const key = randomBytes(16);
  const source = randomBytes(ENCRYPT_BUFFER_MAX);
  const file = await open(join(out, 'spool'), 'w');
  try {
    const t = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    let offset = 0;
    let bytes = 0;
    for (const [i, size] of sizes.entries()) {
      const target = { file, offset, name: `spool (${i})` };
      offset += encryptedSize(size);
      bytes += size;
      const opts = { key, path: `/data/${i}`, size, memoryMax: ENCRYPT_BUFFER_MAX };
      const input =
        size <= ENCRYPT_BUFFER_MAX
          ? Buffer.from(source.subarray(0, size)) // what encryptSelected reads into memory
          : (async function* () {
              for (let at = 0; at < size; at += ENCRYPT_BUFFER_MAX) yield source.subarray(0, Math.min(ENCRYPT_BUFFER_MAX, size - at));
            })();
      const p: Promise<unknown> = encryptAt(input, target, opts).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= ENCRYPT_CONCURRENCY) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - t) / 1000;
    return { bytes, seconds, extra: { files: sizes.length, filesPerSecond: sizes.length / seconds } };
  } finally {
    await file.close();
    await rm(out, { recursive: true, force: true });
  }
}
