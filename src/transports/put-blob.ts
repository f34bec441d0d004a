/**
 * The one way cconv stores a blob it already knows the bytes of: a local file the destination can
 * copy itself (putBlobFile: a kernel copy, then a hash of the copy), else a stream handed to
 * putBlob. Either way the destination checks digest and size.
 */
import { Transform, type Readable } from 'node:stream';
import { chain } from '../image/streams.ts';
import type { Descriptor } from '../image/types.ts';
import type { ImageDestination } from './types.ts';

/** Where a blob's bytes come from: a stream opener, and the local file holding exactly them when there is one. */
export interface BlobSource {
  open: () => Promise<Readable>;
  file?: string | undefined;
}

/** Hooks of `putBlobFrom`. */
export interface PutBlobHooks {
  /** Progress in bytes (the whole size at once for a file copy). */
  advance?: (n: number) => void;
  /**
   * Sees the stream before putBlob reads it (not called for a file copy); may throw to stop, after
   * destroying it. May return a function, called once putBlob has settled.
   */
  opened?: (content: Readable) => (() => void) | void;
}

/** Stores `descriptor`'s bytes from `source` in `dst` (see the module comment). */
export async function putBlobFrom(dst: ImageDestination, descriptor: Descriptor, source: BlobSource, hooks: PutBlobHooks = {}): Promise<void> {
  if (source.file !== undefined && dst.putBlobFile !== undefined) {
    await dst.putBlobFile(descriptor, source.file); // a kernel copy: not cancellable, but quick
    hooks.advance?.(descriptor.size);
    return;
  }
  let content = await source.open();
  const advance = hooks.advance;
  if (advance !== undefined) {
    // A counting pass-through (a 'data' listener would start the flow before putBlob reads).
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        advance(chunk.length);
        cb(null, chunk);
      },
    });
    content = chain(content, counter);
  }
  const done = hooks.opened?.(content);
  try {
    await dst.putBlob(descriptor, content);
  } finally {
    done?.();
  }
}
