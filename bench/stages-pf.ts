/**
 * Encryption alone, for issue 5's throughput target against `openssl speed -evp aes-128-gcm`
 * (which encrypts one buffer in memory): the protected-file encoding of the image's regular files
 * (same sizes as in the image; content sliced from one random buffer, as openssl reuses its
 * buffer: AES timing does not depend on the bytes), with the in-flight and byte bounds and the
 * encoder (native when built) cconv build uses, written to /dev/null so that the page-cache copy
 * of a spool file is not counted. The `encrypt` stage has the build's whole path (layers re-read,
 * spool written).
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { encryptAt, encryptedSize } from '../src/encrypt/index.ts';
import { nativeEncode } from '../src/encrypt/pf/native.ts';
import { ENCRYPT_BUFFER_BUDGET, ENCRYPT_BUFFER_MAX, ENCRYPT_CONCURRENCY, JobPool } from '../src/pipeline/encrypt.ts';
import { flatten } from '../src/rootfs/index.ts';
import { openSource, parseReference } from '../src/transports/index.ts';
import type { StageArgs, StageOutput } from './stages.ts';

/** `encrypt-pf`: arg `ref` (the image). extra: files, files per second, whether the native encoder ran. */
export async function encryptPf(a: StageArgs): Promise<StageOutput> {
  const image = await openSource(parseReference(String(a.ref))).open();
  let sizes: number[];
  try {
    const rootfs = await flatten(image, { hash: false });
    sizes = [...rootfs.entries()].filter((e) => e.type === 'file').map((e) => e.size);
  } finally {
    await image.close();
  }
  const key = randomBytes(16);
  const source = randomBytes(ENCRYPT_BUFFER_MAX);
  const file = await open('/dev/null', 'w');
  try {
    const t = performance.now();
    const pool = new JobPool(ENCRYPT_CONCURRENCY, ENCRYPT_BUFFER_BUDGET); // as encryptSelected
    let offset = 0;
    let bytes = 0;
    for (const [i, size] of sizes.entries()) {
      const target = { file, offset, name: `/dev/null (${i})` };
      offset += encryptedSize(size);
      bytes += size;
      const opts = { key, path: `/data/${i}`, size, memoryMax: ENCRYPT_BUFFER_MAX };
      if (size > ENCRYPT_BUFFER_MAX) {
        // As encryptSelected: a large file is streamed in, while the small ones in flight go on.
        await encryptAt((async function* () {
          for (let at = 0; at < size; at += ENCRYPT_BUFFER_MAX) yield source.subarray(0, Math.min(ENCRYPT_BUFFER_MAX, size - at));
        })(), target, opts);
        continue;
      }
      await pool.room(size);
      pool.add(encryptAt(source.subarray(0, size), target, opts).then(() => {}), size);
    }
    await pool.settle();
    pool.check();
    const seconds = (performance.now() - t) / 1000;
    return { bytes, seconds, extra: { files: sizes.length, filesPerSecond: sizes.length / seconds, native: nativeEncode !== undefined } };
  } finally {
    await file.close();
  }
}
