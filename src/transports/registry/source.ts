/**
 * A registry image as an ImageSource: the tag or digest is fetched (an index is resolved to the
 * platform's manifest, nested indexes included), and layers stream from the registry, verified in
 * flight by the image model.
 */
import { Readable } from 'node:stream';
import type { Image } from '../../image/image.ts';
import { isIndexMediaType, isManifestMediaType } from '../../image/media.ts';
import { DEFAULT_PLATFORM } from '../../image/platform.ts';
import { imageFromManifest, resolveDescriptor, type BlobOpener } from '../../image/resolve.ts';
import type { Descriptor } from '../../image/types.ts';
import type { ImageReference, ImageSource, OpenOptions } from '../types.ts';
import { RegistryClient, type RegistryClientOptions } from './client.ts';
import { resolveCredentials } from './credentials.ts';

/**
 * Options of the registry transports: TLS and retry settings, explicit credentials (else env vars
 * and the Docker config are consulted, see credentials.ts), and where the Docker config lives.
 */
export interface RegistryOptions extends RegistryClientOptions {
  env?: NodeJS.ProcessEnv;
  dockerConfigDir?: string;
}

type DockerRef = ImageReference & { transport: 'docker' };

/** Creates a client for `ref`'s registry with credentials resolved from `options`. */
export async function connectRegistry(ref: DockerRef, options: RegistryOptions): Promise<RegistryClient> {
  const lookup: Parameters<typeof resolveCredentials>[0] = { registry: ref.registry };
  if (options.credentials !== undefined) lookup.explicit = options.credentials;
  if (options.env !== undefined) lookup.env = options.env;
  if (options.dockerConfigDir !== undefined) lookup.dockerConfigDir = options.dockerConfigDir;
  const credentials = await resolveCredentials(lookup);
  return new RegistryClient(ref.registry, credentials === undefined ? options : { ...options, credentials });
}

/** Reads an image from a registry (`docker://`). */
export class RegistrySource implements ImageSource {
  readonly reference: DockerRef;
  private readonly options: RegistryOptions;

  constructor(reference: DockerRef, options: RegistryOptions = {}) {
    this.reference = reference;
    this.options = options;
  }

  /** Fetches the manifest (digest-checked when the reference has a digest); close() releases the sockets. */
  async open(options: OpenOptions = {}): Promise<Image> {
    const { repository, tag, digest } = this.reference;
    const client = await connectRegistry(this.reference, this.options);
    try {
      const top = await client.getManifest(repository, digest ?? tag ?? 'latest');
      const topDescriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length };
      const openBlob: BlobOpener = async (d) => {
        if (d.digest === top.digest) return Readable.from([top.bytes]);
        if (isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)) {
          return Readable.from([(await client.getManifest(repository, d.digest)).bytes]);
        }
        return client.getBlob(repository, d);
      };
      const platform = options.platform ?? DEFAULT_PLATFORM;
      const resolved = await resolveDescriptor(openBlob, topDescriptor, platform);
      const parts = {
        manifestBytes: resolved.bytes,
        manifestMediaType: resolved.mediaType,
        manifest: resolved.manifest,
        openBlob,
        close: async () => client.close(),
      };
      return await imageFromManifest(resolved.fromIndex ? parts : { ...parts, requirePlatform: platform });
    } catch (err) {
      client.close();
      throw err;
    }
  }
}
