/**
 * assemble/: the output image of `cconv build`.
 *
 * Layers, bottom to top:
 * 1. The app's layers, byte-identical (same blob, streamed from `openStored` and verified once,
 *    by the destination; Docker media types are written as their OCI equivalents, same bytes and
 *    digest) unless the layer holds a regular file at a path the policy encrypts, live, shadowed
 *    or deleted by a later layer, so no plaintext is in any blob. Such a layer is rewritten (see
 *    rewrite.ts): same members in the same order minus those files, re-tarred and gzipped
 *    deterministically, with a new diff_id. A hardlink from or to such a path fails with
 *    E_UNSUPPORTED (the other name would keep the plaintext).
 * 2. ONE runtime layer built from the runtime image's root: the given paths only (Gramine's
 *    pkglibdir subtree; a link to a file outside it is written as that file), their parent
 *    directories (with the app's metadata where the app has them), and the files the caller adds
 *    (the host loader's ELF closure and the patched loader, see pipeline/host-loader.ts). Never
 *    the runtime image's base distribution: a musl app and a glibc app get the same runtime
 *    files. It sits above the app's layers, so no whiteout or opaque directory in them can delete
 *    or hide the runtime; an app file at a runtime path is refused (E_CONFIG).
 * 3. ONE cconv layer: `.manifest.sgx` and `.sig` (under /cconv/, names from the caller), the
 *    trusted argv file (0444), the ciphertexts at the encrypted files' paths (original owner,
 *    mode), `createDirs` (0755), and the parent directories the image lacks (0755 root).
 *
 * Built layers use the deterministic tar writer (tar-writer.ts: ustar, PAX only where needed,
 * numeric owners, empty uname/gname, no atime/ctime), entries depth-first sorted by name with
 * mtime = epoch (rewritten layers keep their members' order and mtimes), gzip level 6 from Node's
 * zlib without name/mtime (the cconv layer, when it holds ciphertexts: gzip of stored blocks,
 * stored-gzip.ts, since ciphertext does not compress). Each built layer is spooled to a file in a private temp dir under
 * `tmpDir`, hashing diff_id and blob digest in the same pass; the dir goes on `close()` and on
 * every assembleImage error.
 *
 * Config: the app's Env, WorkingDir, ExposedPorts, Volumes, Labels, StopSignal and platform;
 * Entrypoint = the runtime loader argv (no shell), Cmd null unless given, User "": the loader runs
 * as root to set up the enclave (it needs the SGX device and AESM socket), and the app's identity
 * inside the enclave is the manifest's loader.uid/gid, which MRENCLAVE covers; labels and manifest
 * annotations carry the identity (org.cconv.*; annotations add org.opencontainers.image.base.digest).
 * history keeps the source's and marks rewritten layers; created = epoch. JSON is compact with a
 * fixed key order. The API takes no key material, so no key can end up in a layer.
 */

/** Builds the output image's layers, config and manifest (see `assembleImage` in assemble.ts). */
export { assembleImage, keptDescriptor } from './assemble.ts';
/** Writes an assembled image to a destination: blobs, config, manifest, commit; abort on error. */
export { writeAssembled } from './write.ts';
export type { WriteOptions } from './write.ts';
/** Input and output types. */
export type { AddedFile, AssembledImage, AssembledLayer, AssembleIdentity, AssembleInput, EncryptedFile } from './types.ts';
export type { RuntimeAddedFile } from './runtime-layer.ts';
/** Label keys, and the pure config/manifest builders. */
export { BASE_DIGEST_ANNOTATION, CREATED_BY, LABELS, buildConfig, buildManifest, identityLabels, rfc3339 } from './config.ts';
/** The deterministic tar writer. */
export { encodeHeaders, encodePaxRecords, tarStream } from './tar-writer.ts';
export type { TarItem, TarItemType } from './tar-writer.ts';
/** The gzip level of built layers. */
export { GZIP_LEVEL } from './layer-file.ts';
