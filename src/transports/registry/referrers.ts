/**
 * OCI referrers (distribution spec v1.1): `GET /v2/NAME/referrers/DIGEST` answers an index of the
 * manifests whose `subject` is DIGEST. Registries without the API (404, e.g. distribution 2.8)
 * use the tag schema instead: the index is stored under the tag `ALG-HEX` (`sha256-<hex>`).
 */
import { CconvError, isCconvError } from '../../errors.ts';
import { splitDigest } from '../../image/digest.ts';
import { MAX_DOCUMENT_BYTES } from '../../image/resolve.ts';
import { readAll } from '../../image/streams.ts';
import { MediaType, type Digest, type Index } from '../../image/types.ts';
import { parseIndex } from '../../image/validate.ts';
import { repositoryScope } from './auth.ts';
import { responseError, type RegistryClient } from './client.ts';

/** The fallback tag of the referrers tag schema for `digest` (`sha256-<hex>`). */
export function referrersTag(digest: Digest): string {
  const { algorithm, hex } = splitDigest(digest);
  return `${algorithm}-${hex}`;
}

/** Referrers of `digest`, optionally filtered by artifact type; how they were found is in `source`. */
export async function listReferrers(
  client: RegistryClient,
  repository: string,
  digest: Digest,
  artifactType?: string,
): Promise<{ index: Index; source: 'api' | 'tag' | 'none' }> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const res = await client.send(
    { method: 'GET', url: `${client.url(`${repository}/referrers/${digest}`)}${query}`, headers: { accept: MediaType.OciIndex } },
    [repositoryScope(repository, 'pull')],
  );
  const filter = (index: Index): Index =>
    artifactType === undefined ? index : { ...index, manifests: index.manifests.filter((d) => d.artifactType === artifactType) };
  if (res.status === 200) {
    const bytes = await readAll(res.body, MAX_DOCUMENT_BYTES, () => new CconvError('E_MANIFEST_INVALID', 'referrers index too large'));
    return { index: filter(parseIndex(bytes, MediaType.OciIndex, `referrers of ${digest}`)), source: 'api' };
  }
  if (res.status !== 404) throw await responseError(res, `referrers of ${digest} in ${client.registry}/${repository}`);
  res.body.resume();
  try {
    const fetched = await client.getManifest(repository, referrersTag(digest));
    return { index: filter(parseIndex(fetched.bytes, fetched.mediaType, `referrers tag ${referrersTag(digest)}`)), source: 'tag' };
  } catch (err) {
    if (isCconvError(err, 'E_IMAGE_NOT_FOUND')) return { index: { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }, source: 'none' };
    throw err;
  }
}
