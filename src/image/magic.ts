/**
 * The first bytes of a layer blob checked against the compression its media type names, both
 * ways: the `zstd` CLI also decodes gzip, so without this a gzip blob under a zstd media type was
 * accepted while zstd under gzip was refused, and a blob's bytes could disagree with what the
 * manifest (and so every other tool) says it is.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CconvError } from '../errors.ts';
import type { Compression } from './types.ts';

/** Bytes needed to tell the formats apart. */
const HEAD = 4;

/** What the first bytes are: a gzip member, a zstd frame (or skippable frame), or neither. */
export function blobFormat(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18 && (head[0]! & 0xf0) === 0x50) return 'zstd'; // skippable frame
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

function describe(c: Compression): string {
  return c === 'none' ? 'an uncompressed tar' : c;
}

/**
 * A pass-through stage that errors with E_LAYER_CORRUPT (naming the layer as `name`) unless the
 * stream starts as `compression` says: gzip and zstd blobs need their magic number; an
 * uncompressed layer must not start with either (a tar cannot: its first bytes are a UTF-8 name).
 * Holds at most the first 4 bytes back.
 */
export function checkMagic(compression: Compression, name: string): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      if (head === undefined) return callback(null, chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < HEAD) return callback(); // wait for more
      const out = head;
      head = undefined;
      callback(verdict(compression, out, name) ?? null, out);
    },
    flush(callback: TransformCallback) {
      if (head === undefined || head.length === 0 && compression === 'none') return callback();
      const out = head;
      head = undefined;
      callback(verdict(compression, out, name) ?? null, out);
    },
  });
}

/** The error for a blob starting with `head` under `compression`, or undefined when they agree. */
function verdict(compression: Compression, head: Buffer, name: string): CconvError | undefined {
  const found = blobFormat(head);
  if (found === compression) return undefined;
  let what: string;
  if (found !== 'none') what = `is ${describe(found)}`;
  else if (head.length === 0) what = 'is empty';
  else what = `is not ${compression} (it starts with ${head.subarray(0, HEAD).toString('hex')})`;
  const hint =
    found !== 'none'
      ? 'the manifest names the wrong media type for this layer: rebuild or re-push the image with a tool that records it correctly'
      : 'the blob is corrupt, or compressed in a format its media type does not name';
  return new CconvError('E_LAYER_CORRUPT', `${name}: the blob ${what}, but its media type says ${describe(compression)}`, { hint });
}
