/**
 * The immutable image view every stage consumes, whatever backs it (OCI layout, docker-archive tar,
 * Docker daemon, registry). Modelled on go-containerregistry's v1.Image / v1.Layer.
 */
import type { Readable } from 'node:stream';
import type { Compression, Descriptor, Digest, ImageConfig, Manifest, Platform } from './types.ts';

/** One layer of an image. */
export interface Layer {
  /** Position in the manifest, 0 = bottom. */
  readonly index: number;
  /** The manifest's descriptor of the (possibly compressed) blob. */
  readonly descriptor: Descriptor;
  /** The uncompressed tar's digest from the config's rootfs.diff_ids. */
  readonly diffId: Digest;
  readonly compression: Compression;
  /**
   * The local file that holds exactly the blob, when there is one (an OCI layout's blob file):
   * a destination may copy it with `putBlobFile`. Not verified: the destination verifies.
   */
  readonly blobFile?: string;
  /**
   * Opens the blob as stored. The stream is digest- and size-checked in flight: it errors with
   * E_DIGEST_MISMATCH / E_SIZE_MISMATCH at its end if the bytes differ. The caller consumes or
   * destroys it.
   */
  openCompressed(): Promise<Readable>;
  /**
   * Opens the blob as stored, NOT verified: only for handing straight to an ImageDestination,
   * whose putBlob checks digest and size itself (so the bytes are hashed once, not twice). The
   * caller consumes or destroys it.
   */
  openStored(): Promise<Readable>;
  /**
   * Opens the uncompressed tar stream. Decompression errors become E_LAYER_CORRUPT; the blob
   * digest is checked at end of stream, and the diff_id too (E_DIGEST_MISMATCH) unless
   * `options.diffId` is false. The caller consumes or destroys it.
   */
  openUncompressed(options?: UncompressedOptions): Promise<Readable>;
}

/** Options of `Layer.openUncompressed`. */
export interface UncompressedOptions {
  /**
   * false: do not hash the output for the diff_id. Only for reading again a layer whose diff_id
   * an earlier read checked: the blob digest, always checked, pins the same bytes, and
   * decompression is deterministic, so the output is the same (saves hashing the whole tar).
   */
  diffId?: boolean;
}

/** A single-platform image: its manifest, config and layers. */
export interface Image {
  /** The manifest exactly as stored; its sha256 is `manifestDigest`. */
  readonly manifestBytes: Buffer;
  readonly manifestDigest: Digest;
  readonly manifestMediaType: string;
  readonly manifest: Manifest;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
  readonly platform: Platform;
  readonly layers: readonly Layer[];
  /** Releases what the source holds open (spooled files, sockets). Idempotent. */
  close(): Promise<void>;
}
