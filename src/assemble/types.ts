/** Input and output contracts of the image assembler (see index.ts for the design). */
import type { Readable } from 'node:stream';
import type { Image } from '../image/image.ts';
import type { Descriptor, Digest } from '../image/types.ts';
import type { Reporter } from '../progress.ts';
import type { Rootfs } from '../rootfs/types.ts';
import type { RuntimeAddedFile } from './runtime-layer.ts';

/** A file whose plaintext must appear in no layer; its ciphertext replaces it in the cconv layer. */
export interface EncryptedFile {
  /** Absolute in-image path of the original (plaintext) file. */
  path: string;
  /** A local file holding the ciphertext, already written by the caller (read when the layer is built). */
  ciphertextFile: string;
  /** Where the ciphertext starts in `ciphertextFile` (several files may share one; default 0). */
  offset?: number;
  /** Exact byte size of the ciphertext (checked while streaming: E_SIZE_MISMATCH). */
  size: number;
}

/** A small file cconv adds to the cconv layer (`.manifest.sgx`, `.sig`, the trusted argv file). */
export interface AddedFile {
  /** Absolute in-image path. */
  path: string;
  content: Buffer;
  /** Permission bits, e.g. 0o444. Owner is root. */
  mode: number;
}

/** The identity the output image is labelled with (hex strings lowercase). */
export interface AssembleIdentity {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  debug: boolean;
}

/** Everything `assembleImage` needs. No key material is accepted, by design. */
export interface AssembleInput {
  /** The app image; its layers are streamed again (it must stay open until the result is written). */
  source: Image;
  /** The app image's flattened root (owners/modes of encrypted files, conflict checks). */
  sourceRootfs: Rootfs;
  /** The reference the user gave for the source (label `org.cconv.source.ref`). */
  sourceRef: string;
  /**
   * The runtime image's root, the absolute paths (pkglibdir) to copy from it, and files to add
   * over them (the host loader's closure and the patched loader).
   */
  runtime: { rootfs: Rootfs; paths: readonly string[]; added?: readonly RuntimeAddedFile[] };
  encrypted: readonly EncryptedFile[];
  /**
   * True for an absolute in-image path ('/app/model/old.bin') the policy encrypts. Every regular
   * file at such a path is dropped from the app's layers, also where a later layer deletes or
   * replaces it, so no blob holds a plaintext the policy meant to encrypt. Without it, only the
   * paths of `encrypted` are dropped.
   */
  encrypts?: (path: string) => boolean;
  /** Files of the cconv layer: `.manifest.sgx` and `.sig` under /cconv/, the trusted argv file (0444). */
  files: readonly AddedFile[];
  /** Directories to create (mode 0755, root), e.g. a WorkingDir the image lacks. */
  createDirs: readonly string[];
  /** The container's Entrypoint: the runtime loader's argv, e.g. [PKGLIBDIR/sgx/loader, PKGLIBDIR/sgx/libpal.so, "init", "/cconv/app"]. */
  entrypoint: readonly string[];
  /** The container's Cmd; default null. */
  cmd?: readonly string[] | null;
  identity: AssembleIdentity;
  /** The enclave runs code Gramine does not check: label org.cconv.sgx.untrusted-code=true. */
  untrustedCode?: boolean;
  runtimeInfo: { name: 'gramine'; version: string };
  /** Seconds since the epoch for every timestamp written (SOURCE_DATE_EPOCH, or 0). */
  epoch: number;
  /** Parent of the temp dir holding built layers; default os.tmpdir(). */
  tmpDir?: string;
  report?: Reporter;
}

/** One layer of the assembled image, bottom first. */
export interface AssembledLayer {
  descriptor: Descriptor;
  diffId: Digest;
  /** True when the source blob is reused byte for byte. */
  kept: boolean;
  /** What the layer is: 'runtime', 'source' (kept or rewritten app layer) or 'cconv'. */
  role: 'runtime' | 'source' | 'cconv';
  /** Opens the blob as stored, for an ImageDestination's putBlob (which checks digest and size). The caller consumes or destroys it. */
  open(): Promise<Readable>;
  /** The local file holding exactly the blob, when there is one (for a destination's putBlobFile). */
  file?: string;
}

/** The assembled image: exact manifest and config bytes, and its layers. */
export interface AssembledImage {
  manifestBytes: Buffer;
  manifestDigest: Digest;
  manifestMediaType: string;
  configBytes: Buffer;
  configDescriptor: Descriptor;
  layers: readonly AssembledLayer[];
  /** Source layer indexes that were rewritten (they held an encrypted path). */
  rewritten: readonly number[];
  /** Plaintext files dropped from the app's layers that were not live: deleted or replaced by a later layer. */
  droppedShadowed: number;
  /** Removes the temp dir of built layers (open() fails after). Idempotent. Does not close `source`. */
  close(): Promise<void>;
}
