/**
 * The reading half of flatten: one layer's tar read to its end (so its digest checks run), each
 * member's header kept and each regular file's content hashed. Applying members to the tree is
 * the other half (apply.ts); it needs the tree as the lower layers left it, scanning does not, so
 * flatten scans the next layer while it applies this one.
 */
import { createHash } from 'node:crypto';
import type { Layer } from '../image/image.ts';
import { layerMembers } from './layer-members.ts';
import { DEFAULT_FLATTEN_LIMITS, EntryBudget, checkMemberPaths } from './limits.ts';
import type { TarEntry } from './tar-reader.ts';
import type { FlattenLimits } from './types.ts';

/** A tar member without its body; `sha256` is the raw digest (32 latin1 chars) of a file's content when hashing is on. */
export type ScannedMember = Omit<TarEntry, 'body'> & { readonly sha256: string | undefined };

/** Options of `scanLayer`. */
export interface ScanOptions {
  hash: boolean;
  onBytes?: (n: number) => void;
  /** Checked before each member: when aborted, the scan stops (the layer stream is destroyed) and throws the reason. */
  signal?: AbortSignal;
  /** Checked per member (E_UNSUPPORTED): path and name lengths, and members of this layer against maxEntries. */
  limits?: FlattenLimits;
}

/**
 * Reads `layer` to its end and returns its members in tar order. Errors are those of layerMembers
 * (CconvErrors naming the layer); an error met while reading a member's body is translated the
 * same way by the caller.
 */
export async function scanLayer(layer: Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>, options: ScanOptions): Promise<ScannedMember[]> {
  const out: ScannedMember[] = [];
  const limits = options.limits ?? DEFAULT_FLATTEN_LIMITS;
  // This layer alone against maxEntries: refused while reading, before its member list grows further.
  const budget = new EntryBudget(limits.maxEntries);
  for await (const e of layerMembers(layer, options.onBytes)) {
    options.signal?.throwIfAborted();
    budget.take(1, layer);
    checkMemberPaths(limits, layer, e.name, e.linkname);
    let sha256: string | undefined;
    if (options.hash && e.type === 'file') {
      const h = createHash('sha256');
      for await (const chunk of e.body()) h.update(chunk);
      sha256 = h.digest().toString('latin1'); // half the memory of hex
    }
    out.push({
      ordinal: e.ordinal,
      name: e.name,
      nameValid: e.nameValid,
      linkValid: e.linkValid,
      type: e.type,
      typeflag: e.typeflag,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      size: e.size,
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      xattrs: e.xattrs,
      sparse: e.sparse,
      sha256,
    });
  }
  return out;
}
