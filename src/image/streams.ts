/**
 * Small stream helpers shared by the image model and the transports.
 */
import { pipeline, type Duplex, type Readable } from 'node:stream';

/**
 * Makes `stream` emit `map(err)` instead of `err` whenever it is destroyed with an error (its own
 * or one propagated by a pipeline). Used to turn raw zlib/fs errors into CconvErrors at the place
 * that knows the context. Returns the same stream.
 */
export function mapStreamErrors<T extends Readable>(stream: T, map: (err: Error) => Error): T {
  const original = stream._destroy;
  stream._destroy = function (this: T, err: Error | null, callback: (error?: Error | null) => void) {
    original.call(this, err, (e?: Error | null) => callback(e ? map(e) : e));
  };
  return stream;
}

/**
 * Pipes `source` through `stages` and returns the last stage. An error in any stream destroys all
 * of them and reaches the consumer as an 'error' on the returned stream; destroying the returned
 * stream early destroys the source too (closing its file descriptor).
 */
export function chain(source: Readable, ...stages: Duplex[]): Readable {
  if (stages.length === 0) return source;
  const streams = [source, ...stages] as unknown as [Readable, ...Duplex[]];
  // The callback only keeps pipeline from throwing; errors reach the consumer through the last stage.
  return (pipeline as unknown as (...s: unknown[]) => Readable)(...streams, () => {});
}

/** Reads a stream whole (for small documents only), rejecting once more than `maxBytes` arrived. */
export async function readAll(stream: Readable, maxBytes: number, onTooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw onTooLarge();
      chunks.push(chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}
