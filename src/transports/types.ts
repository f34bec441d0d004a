/**
 * Image references and the source/destination contracts every transport implements
 * (containers/image's ImageSource / ImageDestination, reduced to what cconv needs).
 */
import type { Readable } from 'node:stream';
import type { Image } from '../image/image.ts';
import type { Descriptor, Digest, Platform } from '../image/types.ts';
import type { Reporter } from '../progress.ts';

/** A parsed, immutable image reference. `toString()` of the parsed form gives back a canonical string. */
export type ImageReference =
  | { transport: 'oci'; dir: string; tag?: string }
  | { transport: 'docker-archive'; file: string; tag?: string }
  | { transport: 'docker-daemon'; name: string; tag?: string; digest?: Digest }
  | { transport: 'docker'; registry: string; repository: string; tag?: string; digest?: Digest };

/** Options common to opening any image. */
export interface OpenOptions {
  /** Platform to select from an index; default linux/amd64. */
  platform?: Platform;
  /** Directory for temp files (spooled archives); default os.tmpdir(). */
  tmpDir?: string;
  report?: Reporter;
  signal?: AbortSignal;
}

/** Reads one image from a transport. */
export interface ImageSource {
  readonly reference: ImageReference;
  /** Resolves the reference (index -> platform manifest) and returns the image view. */
  open(options?: OpenOptions): Promise<Image>;
}

/**
 * Writes one image to a transport. Call order (containers/image): putBlob for every layer and the
 * config, then putManifest, then commit. Nothing is visible under the reference before commit;
 * abort (or a failed commit) removes what was written.
 */
export interface ImageDestination {
  readonly reference: ImageReference;
  /**
   * How many blobs (hasBlob + putBlob) may be in flight at once; absent means 1 (one at a time).
   * `Infinity` when the destination sets no limit. Concurrent putBlob calls are always for
   * different digests, and putManifest, commit and abort only come once every putBlob settled.
   */
  readonly concurrentBlobs?: number;
  /** True when the destination already holds the blob (lets the caller skip the upload). */
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /**
   * Optional: stores a blob by copying the local file `path` (which must hold exactly the blob),
   * digest and size checked as by putBlob. Faster than putBlob where the destination can copy
   * files (copy_file_range or a reflink, then one read to hash the copy).
   */
  putBlobFile?(descriptor: Descriptor, path: string): Promise<void>;
  /** Stores a blob; the stream is consumed, and its digest and size checked against `descriptor`. */
  putBlob(descriptor: Descriptor, content: Readable): Promise<void>;
  /** Stores the manifest bytes exactly as given. */
  putManifest(bytes: Buffer, mediaType: string): Promise<Digest>;
  /** Makes the image visible under the reference (tag, index entry, archive rename). */
  commit(): Promise<void>;
  /** Discards everything written since creation. Idempotent; safe after commit (no-op). */
  abort(): Promise<void>;
}
