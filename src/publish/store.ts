/**
 * Pushing a bundle as a referrer of an image in a registry: the empty config and the bundle blob,
 * the artifact manifest by digest, then the referrers index. A registry with the referrers API
 * indexes the artifact itself; otherwise the `sha256-<hex>` tag is read, merged and re-put (read-
 * modify-write: two concurrent attesters of one image can lose an entry; distribution has no
 * conditional PUT to prevent it).
 */
import { Readable } from 'node:stream';
import type { Descriptor, Index } from '../image/types.ts';
import { listReferrers, referrersTag, uploadBlob, type RegistryClient } from '../transports/registry/index.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, mergeReferrersIndex, referrerManifest } from './referrer.ts';

/** What `pushReferrer` did. */
export interface PushedReferrer {
  /** The artifact manifest's descriptor (as listed in the referrers index). */
  descriptor: Descriptor;
  /** 'api': the registry indexes referrers itself; 'tag': the fallback tag was updated. */
  index: 'api' | 'tag';
  /** The fallback tag, when used. */
  tag?: string;
}

async function putBlobOnce(client: RegistryClient, repository: string, descriptor: Descriptor, bytes: Buffer): Promise<void> {
  if (await client.hasBlob(repository, descriptor.digest, 'pull,push')) return;
  await uploadBlob(client, repository, descriptor, Readable.from([bytes]));
}

/** Stores `bundleBytes` as a referrer of `subject` (an image manifest in `repository`). */
export async function pushReferrer(client: RegistryClient, repository: string, subject: Descriptor, bundleBytes: Buffer, predicateType: string): Promise<PushedReferrer> {
  const artifact = referrerManifest(bundleBytes, subject, predicateType);
  await putBlobOnce(client, repository, EMPTY_DESCRIPTOR, EMPTY_JSON);
  await putBlobOnce(client, repository, artifact.layer, bundleBytes);
  await client.putManifest(repository, artifact.descriptor.digest, artifact.bytes, artifact.descriptor.mediaType);
  const found = await listReferrers(client, repository, subject.digest);
  if (found.source === 'api') return { descriptor: artifact.descriptor, index: 'api' };
  const tag = referrersTag(subject.digest);
  const existing: Index | undefined = found.source === 'tag' ? found.index : undefined;
  const merged = mergeReferrersIndex(existing, artifact.descriptor);
  await client.putManifest(repository, tag, merged.bytes, merged.index.mediaType!);
  return { descriptor: artifact.descriptor, index: 'tag', tag };
}
