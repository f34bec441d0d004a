/**
 * The flattened root filesystem of an image: what a container would see after the layers are
 * applied in order (OCI image-spec layer.md), without extracting anything to disk.
 */
import type { Readable } from 'node:stream';

/** Kind of a root-filesystem entry. A hardlink is reported as `file` with `hardlinkTo` set. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

/**
 * One entry of the flattened tree. `path` is relative to the root, normalised, without leading
 * or trailing '/', and '' for the root itself (never yielded).
 */
export interface RootfsEntry {
  readonly path: string;
  readonly type: EntryType;
  /** Permission and special bits (0o7777), without the file-type bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Modification time, seconds since the epoch. */
  readonly mtime: number;
  /** Content size in bytes for files (the expanded size for sparse files), 0 otherwise. */
  readonly size: number;
  /** Symlink target as stored (may be absolute or relative). */
  readonly linkTarget?: string;
  /** For a file that was written as a hardlink: the path of the file it links to (same content). */
  readonly hardlinkTo?: string;
  /** Device numbers for char/block devices. */
  readonly devmajor?: number;
  readonly devminor?: number;
  /** Index of the layer that supplies this entry's content or metadata. */
  readonly layer: number;
  /** Lowercase hex sha256 of the content, when the view was built with hashing on (files only). */
  readonly sha256?: string;
  /** Extended attributes / PAX records worth keeping (e.g. security.capability), as given. */
  readonly xattrs?: Readonly<Record<string, string>>;
}

/** Totals over the final tree. Hardlinks count once in `hardlinks` and their bytes are not double-counted. */
export interface RootfsTotals {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  other: number;
  /** Sum of sizes of distinct file contents. */
  bytes: number;
}

/** Receives file contents during a content pass. The stream must be consumed before resolving. */
export type ContentVisitor = (entry: RootfsEntry, content: Readable) => Promise<void>;

/**
 * Bounds of `flatten` (defaults in DEFAULT_FLATTEN_LIMITS: 1,000,000 entries, 500 layers, 64 KiB
 * paths, 255-byte names). Going over one is E_UNSUPPORTED naming the layer (and path).
 */
export interface FlattenLimits {
  /** Most entries over the image: tar members of all layers (whiteouts too) plus implicitly created parent directories. */
  maxEntries: number;
  /** Most layers; checked before any layer is read. */
  maxLayers: number;
  /** Longest member path or link target, in bytes as stored. */
  maxPathBytes: number;
  /** Longest path component (file name), in bytes. */
  maxNameBytes: number;
}

/** Options of `flatten`. */
export interface FlattenOptions {
  /** Raises or lowers the bounds; unset fields keep their defaults. Values must be positive integers (E_USAGE). */
  limits?: Partial<FlattenLimits>;
  /** Compute `sha256` of every file while indexing (one pass over the layers). Default true. */
  hash?: boolean;
  report?: import('../progress.ts').Reporter;
  signal?: AbortSignal;
  /**
   * Called with a layer once it has been read to its end (its blob digest, size and
   * diff_id checked) and before it is applied; layers are reported in order. Lets a caller start
   * using a verified blob while the next layers are read. It must not throw.
   */
  onLayerRead?: (layer: import('../image/image.ts').Layer) => void;
}

/**
 * The flattened tree, held as metadata only (memory grows with the number of entries, never with
 * file sizes). Contents are read again from the layers on demand.
 */
export interface Rootfs {
  /** All entries except the root, depth-first with each directory's children sorted by name (bytewise UTF-8). */
  entries(): Iterable<RootfsEntry>;
  /** The entry at exactly `path` (no symlink following), or undefined. */
  get(path: string): RootfsEntry | undefined;
  /**
   * Follows symlinks inside the root, as a chroot would (absolute targets start at the root, '..'
   * stops at the root), including intermediate components. Returns the final entry, or undefined
   * when it does not exist. Throws E_LINK_INVALID on a loop (over 40 links).
   * `followLast: false` resolves only the parent directories.
   */
  resolve(path: string, options?: { followLast?: boolean }): RootfsEntry | undefined;
  readonly totals: RootfsTotals;
  /**
   * Streams the layers again and hands the content of every file entry selected by `select` to
   * `visitor`, in layer order (not path order). Each selected file's content is delivered once
   * (a hardlink's content via its own entry); content is checked against `sha256` when known.
   */
  readContents(select: (entry: RootfsEntry) => boolean, visitor: ContentVisitor): Promise<void>;
  /** Reads one small file whole (e.g. /etc/passwd), following symlinks inside the root; undefined if absent. */
  readFile(path: string, maxBytes?: number): Promise<Buffer | undefined>;
}
