/**
 * The native protected-file encoder (native/pf_native.c, built by scripts/build-native.sh into
 * build/pf_native.node), when it was built: same format as encoder.ts, run on thread-pool threads
 * and written with pwrite. `CCONV_PF_NATIVE=0` turns it off (the TypeScript encoder is then used
 * everywhere). The caller must not touch the Buffers it passes until the promise settles.
 */
import { createRequire } from 'node:module';

/**
 * Encodes whole protected files: file i from `plains[i]`, bound to `paths[i]` (normalised UTF-8,
 * checked by the caller), written at `offsets[i]` of `fd`. With `wipe`, each plaintext is zeroed
 * once encrypted (also after a failure). A failure has `index` (the file) and, for a failed
 * write, `code` (errno name).
 */
export type NativeEncodeFiles = (key: Buffer, fd: number, paths: Buffer[], plains: Buffer[], offsets: Float64Array, wipe: boolean) => Promise<void>;
/**
 * Encrypts the k <= 96 data nodes of `plain` in place, each under a fresh key, storing key and tag
 * in entries 0..k-1 of the MHT node plaintext `mht`; with `fd >= 0` writes the ciphertext at `offset`.
 */
export type NativeSealGroup = (plain: Buffer, mht: Buffer, fd: number, offset: number) => Promise<void>;

interface Addon {
  encodeFiles: NativeEncodeFiles;
  sealGroup: NativeSealGroup;
}

function load(): Addon | undefined {
  if (process.env.CCONV_PF_NATIVE === '0') return undefined;
  try {
    const addon = createRequire(import.meta.url)('../../../build/pf_native.node') as Partial<Addon>;
    return typeof addon.encodeFiles === 'function' && typeof addon.sealGroup === 'function' ? (addon as Addon) : undefined;
  } catch {
    return undefined; // not built (no gcc or Node headers): the TypeScript encoder is used
  }
}

/** The native encoder, or undefined when it is not available. */
export const native: Addon | undefined = load();
