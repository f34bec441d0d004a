/**
 * The native protected-file encoder (native/pf_native.c, built by scripts/build-native.sh into
 * build/pf_native.node), when it was built: same format as encoder.ts, for whole plaintexts in
 * memory, encrypted on a thread-pool thread and written with pwrite. `CCONV_PF_NATIVE=0` turns it
 * off (the TypeScript encoder is then used everywhere).
 */
import { createRequire } from 'node:module';

/** Encodes a whole protected file; resolves to the number of 4 KiB nodes written at `offset` of `fd`. */
export type NativeEncode = (key: Buffer, path: Buffer, plain: Buffer, fd: number, offset: number) => Promise<number>;
/** Encrypts k 4 KiB nodes of `plain` into `out`, each under a fresh key (into `keys`), tags into `tags`, on the thread pool. */
export type NativeGcmNodes = (plain: Buffer, out: Buffer, keys: Buffer, tags: Buffer) => Promise<void>;

interface Addon {
  encode: NativeEncode;
  gcmNodes: NativeGcmNodes;
}

function load(): Addon | undefined {
  if (process.env.CCONV_PF_NATIVE === '0') return undefined;
  try {
    const addon = createRequire(import.meta.url)('../../../build/pf_native.node') as Partial<Addon>;
    return typeof addon.encode === 'function' && typeof addon.gcmNodes === 'function' ? (addon as Addon) : undefined;
  } catch {
    return undefined; // not built (no gcc or Node headers): the TypeScript encoder is used
  }
}

const addon = load();
/** The native whole-file encoder, or undefined when it is not available. */
export const nativeEncode: NativeEncode | undefined = addon?.encode;
/** The native batch of data nodes (for the streaming encoder), or undefined when not available. */
export const nativeGcmNodes: NativeGcmNodes | undefined = addon?.gcmNodes;
