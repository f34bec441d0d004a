/**
 * A build's cancellation at its edges: the source image and the destination seen through an
 * AbortSignal. Every stage that takes time reads the source's layers (flatten, the measurement's
 * content pass, encryption, layer rewriting) or writes through the destination (early blobs, the
 * final write), so once the signal is aborted the layer and blob streams in flight are destroyed
 * with the signal's error (E_ABORTED), no new one opens, no blob starts and nothing is committed.
 * Each stage then fails at its next read or write and its own error path cleans up: temp dirs are
 * removed, the destination is aborted. A zstd child decoding a destroyed stream is killed with it.
 */
import type { Readable } from 'node:stream';
import type { Image, Layer } from '../image/image.ts';
import type { Descriptor } from '../image/types.ts';
import { abortError, throwIfAborted } from '../progress.ts';
import type { ImageDestination } from '../transports/types.ts';

/**
 * Destroys `stream` with `abortError(signal)` when the signal is aborted (at once if it already
 * is); the listener goes when the stream closes.
 */
export function abortableStream<S extends Readable>(stream: S, signal: AbortSignal): S {
  const onAbort = (): void => void stream.destroy(abortError(signal));
  if (signal.aborted) onAbort();
  else {
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return stream;
}

async function opened(signal: AbortSignal, open: () => Promise<Readable>): Promise<Readable> {
  throwIfAborted(signal);
  return abortableStream(await open(), signal);
}

function abortableLayer(layer: Layer, signal: AbortSignal): Layer {
  const out: Layer = {
    index: layer.index,
    descriptor: layer.descriptor,
    diffId: layer.diffId,
    compression: layer.compression,
    openCompressed: () => opened(signal, () => layer.openCompressed()),
    openStored: () => opened(signal, () => layer.openStored()),
    openUncompressed: (options) => opened(signal, () => layer.openUncompressed(options)),
  };
  return layer.blobFile === undefined ? out : { ...out, blobFile: layer.blobFile };
}

/** `image` whose layer streams stop when `signal` is aborted (closing it closes `image`). */
export function abortableImage(image: Image, signal: AbortSignal): Image {
  return {
    manifestBytes: image.manifestBytes,
    manifestDigest: image.manifestDigest,
    manifestMediaType: image.manifestMediaType,
    manifest: image.manifest,
    configBytes: image.configBytes,
    config: image.config,
    platform: image.platform,
    layers: image.layers.map((layer) => abortableLayer(layer, signal)),
    close: () => image.close(),
  };
}

/**
 * `dest` refusing every call but `abort` once `signal` is aborted, and cutting short the putBlob
 * streams in flight. A putBlobFile in flight (a kernel copy) finishes; the destination's abort
 * removes it. `abort` passes through: it is how the caller cleans up.
 */
export function abortableDestination(dest: ImageDestination, signal: AbortSignal): ImageDestination {
  const out: ImageDestination = {
    reference: dest.reference,
    ...(dest.concurrentBlobs !== undefined ? { concurrentBlobs: dest.concurrentBlobs } : {}),
    hasBlob: async (d: Descriptor) => {
      throwIfAborted(signal);
      return dest.hasBlob(d);
    },
    putBlob: async (d: Descriptor, content: Readable) => {
      if (signal.aborted) content.destroy();
      throwIfAborted(signal);
      await dest.putBlob(d, abortableStream(content, signal));
    },
    putManifest: async (bytes: Buffer, mediaType: string) => {
      throwIfAborted(signal);
      return dest.putManifest(bytes, mediaType);
    },
    commit: async () => {
      throwIfAborted(signal);
      await dest.commit();
    },
    abort: () => dest.abort(),
  };
  const putBlobFile = dest.putBlobFile?.bind(dest);
  if (putBlobFile !== undefined) {
    out.putBlobFile = async (d: Descriptor, path: string) => {
      throwIfAborted(signal);
      await putBlobFile(d, path);
      throwIfAborted(signal); // the copy is in; the caller's abort removes it
    };
  }
  return out;
}
