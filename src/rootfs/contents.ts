/**
 * The content pass: re-streams only the layers that hold selected files' bytes and hands each
 * selected entry its content, verifying sha256 where the index computed one.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { CconvError } from '../errors.ts';
import type { Layer } from '../image/image.ts';
import { layerMembers } from './layer-members.ts';
import { translateLayerError } from './errors.ts';
import type { ContentVisitor, RootfsEntry } from './types.ts';

/** Carries a visitor's own error through the layer-error translation unchanged. */
class VisitorFailure {
  constructor(readonly error: unknown) {}
}

/** Where a selected entry's bytes live: layer index, tar member ordinal, expected sha256. */
export interface ContentRequest {
  entry: RootfsEntry;
  layer: number;
  member: number;
  sha256: string | undefined;
}

/**
 * Streams each needed layer once, in ascending layer order, to its end (so its digests are
 * checked), delivering the requested members as they pass. On any error the layer stream and all
 * content streams in flight are destroyed and the error is rethrown; no visitor is called after.
 */
export async function deliverContents(
  layers: ReadonlyMap<number, Pick<Layer, 'index' | 'descriptor' | 'openUncompressed'>>,
  requests: readonly ContentRequest[],
  visitor: ContentVisitor,
): Promise<void> {
  const byLayer = new Map<number, Map<number, ContentRequest[]>>();
  for (const r of requests) {
    let m = byLayer.get(r.layer);
    if (!m) byLayer.set(r.layer, (m = new Map()));
    const list = m.get(r.member);
    if (list) list.push(r);
    else m.set(r.member, [r]);
  }
  for (const idx of [...byLayer.keys()].sort((a, b) => a - b)) {
    const layer = layers.get(idx);
    if (!layer) throw new CconvError('E_INTERNAL', `rootfs references layer ${idx}, which the image does not have`);
    const members = byLayer.get(idx)!;
    try {
      for await (const e of layerMembers(layer, undefined, { reread: true })) {
        const reqs = members.get(e.ordinal);
        if (reqs) await deliver(reqs, e.body(), visitor, layer);
      }
    } catch (err) {
      if (err instanceof VisitorFailure) throw err.error; // the caller's own error, as it threw it
      throw translateLayerError(err, layer);
    }
  }
}

/** Feeds one member's content to every request for it (fan-out with backpressure), then checks sha256. */
async function deliver(
  reqs: ContentRequest[],
  body: AsyncIterable<Buffer>,
  visitor: ContentVisitor,
  layer: Pick<Layer, 'index' | 'descriptor'>,
): Promise<void> {
  const outs = reqs.map(() => new PassThrough());
  const settled = reqs.map(() => false);
  const visits = reqs.map((r, i) =>
    Promise.resolve()
      .then(() => visitor(r.entry, outs[i]!))
      .catch((err: unknown) => {
        throw new VisitorFailure(err);
      })
      .finally(() => {
        settled[i] = true;
      }),
  );
  const all = Promise.all(visits);
  all.catch(() => {});
  const h = reqs[0]!.sha256 === undefined ? undefined : createHash('sha256');
  try {
    for await (const chunk of body) {
      h?.update(chunk);
      for (let i = 0; i < outs.length; i++) {
        if (settled[i]) continue; // the visitor is done: it gets no more bytes
        if (!outs[i]!.write(chunk)) await Promise.race([once(outs[i]!, 'drain'), visits[i]]);
      }
    }
  } catch (err) {
    const cause = err instanceof VisitorFailure ? new Error('content pass aborted') : (err as Error);
    for (const o of outs) o.destroy(cause);
    await Promise.allSettled(visits);
    throw err;
  }
  const got = h?.digest('hex');
  if (h && got !== reqs[0]!.sha256) {
    const path = reqs[0]!.entry.path;
    const err = new CconvError('E_DIGEST_MISMATCH', `layer ${layer.index} (${layer.descriptor.digest}): ${JSON.stringify(path)}: content sha256 ${got} differs from the indexed ${reqs[0]!.sha256}`);
    for (const o of outs) o.destroy(err);
    await Promise.allSettled(visits);
    throw err;
  }
  for (const o of outs) o.end();
  await all;
}
