/**
 * Encryption alone, for issue 5's throughput target against `openssl speed -evp aes-128-gcm`
 * (which encrypts one buffer in memory): the protected-file encoding of the image's regular files
 * (same sizes as in the image; content sliced from one random buffer, as openssl reuses its
 * buffer: AES timing does not depend on the bytes, and so the slices are not wiped), through the
 * same BatchEncryptor and streaming writer cconv build uses (native encoder when built), written
 * to /dev/null so that the page-cache copy of a spool file is not counted. The `encrypt` stage has
 * the build's whole path (layers re-read, spool written).
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { encryptAt, encryptedSize } from '../src/encrypt/index.ts';
import { native } from '../src/encrypt/pf/native.ts';
import { BatchEncryptor, ENCRYPT_BUFFER_MAX } from '../src/pipeline/encrypt.ts';
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
    const batches = new BatchEncryptor(file, key, { wipe: false }); // as encryptSelected
    let offset = 0;
    let bytes = 0;
    for (const [i, size] of sizes.entries()) {
      const target = { file, offset, name: `/dev/null (${i})` };
      offset += encryptedSize(size);
      bytes += size;
      const path = `/data/${i}`;
      if (size > ENCRYPT_BUFFER_MAX) {
        // As encryptSelected: a large file is streamed in, while the batches in flight go on.
        await encryptAt((async function* () {
          for (let at = 0; at < size; at += ENCRYPT_BUFFER_MAX) yield source.subarray(0, Math.min(ENCRYPT_BUFFER_MAX, size - at));
        })(), target, { key, path, size });
        continue;
      }
      await batches.reserve(size);
      batches.add(source.subarray(0, size), target, { path, size }, () => {});
    }
    await batches.finish();
    const seconds = (performance.now() - t) / 1000;
    return { bytes, seconds, extra: { files: sizes.length, filesPerSecond: sizes.length / seconds, native: native !== undefined } };
  } finally {
    await file.close();
  }
}
