/**
 * The in-flight verification and decompression chain of a layer blob: blob digest and size,
 * decompression (errors become E_LAYER_CORRUPT naming the layer), then the diff_id, hashed by
 * pulling from the decoder so decoding (zlib thread pool, zstd child) and hashing overlap.
 */
import { createHash } from 'node:crypto';
import { Readable, type Duplex } from 'node:stream';
import { CconvError, isCconvError } from '../errors.ts';
import { createDecompressor, type DecompressorOptions } from './decompress.ts';
import { createVerifier, parseDigest, splitDigest } from './digest.ts';
import { checkMagic } from './magic.ts';
import { chain, mapStreamErrors } from './streams.ts';
import type { Compression, Digest } from './types.ts';

/** What `decodeChain` checks and how it decodes. */
export interface DecodeSpec {
  compression: Compression;
  digest: Digest;
  size: number;
  diffId: Digest;
  /** Names the layer in error messages. */
  name: string;
  decompressor?: DecompressorOptions;
}

/**
 * The blob-side stages for `spec` (blob digest and size, the first bytes against the compression
 * the media type names (magic.ts), then the decoder when compressed) and the diff_id to check on
 * their output (undefined when it is the blob digest of an uncompressed layer). Digests are
 * validated here (E_DIGEST_INVALID).
 */
export function decodeStages(spec: DecodeSpec): { stages: Duplex[]; diffId: Digest | undefined } {
  const { compression, name } = spec;
  const blob = createVerifier(spec.digest, { size: spec.size, what: name });
  const diffId = parseDigest(spec.diffId);
  const magic = checkMagic(compression, name);
  if (compression === 'none') return { stages: [blob, magic], diffId: spec.digest === diffId ? undefined : diffId };
  const decoder = mapStreamErrors(createDecompressor(compression, spec.decompressor), (err) =>
    isCconvError(err)
      ? err
      : new CconvError('E_LAYER_CORRUPT', `${name}: corrupt or truncated ${compression} stream: ${err.message}`, { cause: err }),
  );
  return { stages: [blob, magic, decoder], diffId };
}

/**
 * Yields `src`'s chunks while hashing them; at the end throws E_DIGEST_MISMATCH (message as
 * DigestVerifier's) when they do not hash to `diffId`. Pulls rather than being piped: reading a
 * chunk lets the decoder start its next block (zlib on the thread pool, a zstd child) before this
 * thread hashes, so decoding and hashing overlap. Piped, the hash ran inside zlib's completion
 * callback, before zlib was handed its next block.
 */
export async function* verifyDiffId(src: AsyncIterable<Buffer>, diffId: Digest | undefined, name: string): AsyncGenerator<Buffer> {
  if (diffId === undefined) {
    yield* src;
    return;
  }
  const { algorithm } = splitDigest(diffId);
  const hash = createHash(algorithm);
  for await (const chunk of src) {
    hash.update(chunk);
    yield chunk;
  }
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== diffId) {
    throw new CconvError('E_DIGEST_MISMATCH', `${name} uncompressed content (diff_id): content has digest ${actual}, expected ${diffId}`);
  }
}

/**
 * Pipes `blob` through the stages of `spec` and returns the uncompressed, verified stream (see
 * `chain`): errors anywhere reach its consumer; destroying it destroys `blob` at once. With
 * `check.diffId` false the diff_id is not hashed (see UncompressedOptions in image.ts).
 */
export function decodeChain(blob: Readable, spec: DecodeSpec, check: { diffId: boolean } = { diffId: true }): Readable {
  const { stages, diffId } = decodeStages(spec);
  const decoded = chain(blob, ...stages);
  if (!check.diffId) return decoded;
  const out = Readable.from(verifyDiffId(decoded, diffId, spec.name), { objectMode: false });
  // Readable.from closes its generator only once the generator's pending read settles, which a
  // stalled source (a hung socket) may never do: tear the chain down first.
  const destroy = out._destroy;
  out._destroy = function (this: Readable, err: Error | null, callback: (error?: Error | null) => void) {
    decoded.destroy();
    destroy.call(this, err, callback);
  };
  return out;
}
