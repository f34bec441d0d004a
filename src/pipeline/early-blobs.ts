/**
 * Source layers written to the destination while the build goes on. When the policy can encrypt
 * nothing, every source layer is kept byte for byte in the output, so its blob can be copied as
 * soon as flatten has read and verified it, while the next layers are read and the enclave is
 * measured: on a 1 GB image this hides most of the copy behind the CPU-bound flatten. Blobs are
 * put in the order asked, one at a time unless the destination takes blobs in parallel (then two
 * at once: flatten reads two layers at a time, so their copies would otherwise queue at its end);
 * a docker archive's member order must not depend on timing. The destination verifies each blob's
 * digest and size as it writes it.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../image/types.ts';
import type { Reporter } from '../progress.ts';
import { putBlobFrom } from '../transports/index.ts';
import type { ImageDestination } from '../transports/types.ts';

/** A queue of putBlob calls on one destination, run in the background. */
export class EarlyBlobs {
  private readonly lanes: Array<Promise<void>>;
  private failure: { error: unknown } | undefined;
  private readonly current = new Set<Readable>();
  private readonly asked = new Set<string>();

  constructor(
    private readonly destination: ImageDestination,
    private readonly report: Reporter,
  ) {
    this.lanes = Array.from({ length: Math.min(2, destination.concurrentBlobs ?? 1) }, () => Promise.resolve());
  }

  /** Whether any blob was asked for (the destination then holds something to abort on failure). */
  get used(): boolean {
    return this.asked.size > 0;
  }

  /**
   * Queues `descriptor` (skipped when already asked for, or when the destination has it). `file`,
   * the local file holding exactly the blob when there is one, is copied with the destination's
   * putBlobFile when it has one.
   */
  put(descriptor: Descriptor, open: () => Promise<Readable>, file?: string): void {
    if (this.asked.has(descriptor.digest)) return;
    const lane = this.asked.size % this.lanes.length;
    this.asked.add(descriptor.digest);
    this.lanes[lane] = this.lanes[lane]!.then(async () => {
      if (this.failure !== undefined) return;
      try {
        if (await this.destination.hasBlob(descriptor)) return;
        await putBlobFrom(this.destination, descriptor, { open, file }, {
          opened: (content) => {
            if (this.failure !== undefined) {
              content.destroy();
              throw this.failure.error;
            }
            this.current.add(content);
            return () => this.current.delete(content);
          },
        });
        this.report({ type: 'log', level: 'debug', message: `blob ${descriptor.digest} written while the build went on` });
      } catch (error) {
        this.failure ??= { error };
      }
    });
  }

  /** Waits for every queued blob; throws the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.lanes);
    if (this.failure !== undefined) throw this.failure.error;
  }

  /**
   * Stops: no queued blob starts, the one being written is cut short; resolves once nothing is
   * writing anymore (the caller then aborts the destination). Never throws.
   */
  async cancel(reason: unknown): Promise<void> {
    this.failure ??= { error: reason };
    for (const c of this.current) c.destroy();
    await Promise.all(this.lanes);
  }
}
