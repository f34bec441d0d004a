/**
 * Digests (OCI image-spec descriptor.md, restricted to sha256 and sha512 with lowercase hex) and
 * a verifying pass-through stream that checks content against a digest and size in flight.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CconvError } from '../errors.ts';
import type { Digest } from './types.ts';

/** Digest algorithms cconv accepts. */
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([0-9a-f]+)$/;

/** True when `value` is a valid digest string (sha256: 64 hex or sha512: 128 hex, lowercase). */
export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  const m = DIGEST_RE.exec(value);
  return m !== null && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Validates `value` as a digest and returns it typed; throws E_DIGEST_INVALID otherwise. */
export function parseDigest(value: unknown, what = 'digest'): Digest {
  if (isDigest(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 140)) : typeof value;
  throw new CconvError('E_DIGEST_INVALID', `${what} is not a valid digest: ${shown}`, {
    hint: 'expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>',
  });
}

/** Splits a valid digest into its algorithm and hex part. */
export function splitDigest(digest: Digest): { algorithm: DigestAlgorithm; hex: string } {
  const i = digest.indexOf(':');
  return { algorithm: digest.slice(0, i) as DigestAlgorithm, hex: digest.slice(i + 1) };
}

/** The digest of `data` (sha256 by default). */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Options of `createVerifier`. */
export interface VerifierOptions {
  /** Expected byte count; more bytes fail at once, fewer fail at end of stream. */
  size?: number;
  /** Names the content in error messages (e.g. "layer 2 (sha256:...)"). */
  what?: string;
}

/**
 * A pass-through that hashes what flows through it and, at end of stream, errors with
 * E_DIGEST_MISMATCH when the digest differs from `expected`, or E_SIZE_MISMATCH when the byte count
 * differs from `size` (immediately once more than `size` bytes arrived). Chunks are passed on as is.
 */
export class DigestVerifier extends Transform {
  readonly expected: Digest;
  readonly size: number | undefined;
  readonly what: string;
  private readonly hash: Hash;
  private count = 0;

  constructor(expected: Digest, options: VerifierOptions = {}) {
    super();
    this.expected = parseDigest(expected);
    this.size = options.size;
    this.what = options.what ?? expected;
    this.hash = createHash(splitDigest(this.expected).algorithm);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.size !== undefined && this.count > this.size) {
      callback(this.sizeError(`more than ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== undefined && this.count !== this.size) {
      callback(this.sizeError(`${this.count} bytes, expected ${this.size}`));
      return;
    }
    const actual = `${splitDigest(this.expected).algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.expected) {
      callback(new CconvError('E_DIGEST_MISMATCH', `${this.what}: content has digest ${actual}, expected ${this.expected}`));
      return;
    }
    callback();
  }

  private sizeError(detail: string): CconvError {
    return new CconvError('E_SIZE_MISMATCH', `${this.what}: content has ${detail}`);
  }
}

/** Creates a `DigestVerifier` (see there). */
export function createVerifier(expected: Digest, options: VerifierOptions = {}): DigestVerifier {
  return new DigestVerifier(expected, options);
}
