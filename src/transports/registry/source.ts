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
import { exchangeEntraToken, speaksAcrOAuth, type EntraExchange } from './acr.ts';
import { RegistryClient, registryBaseUrl, type RegistryClientOptions } from './client.ts';
import { resolveCredentials, type Credentials } from './credentials.ts';
import { HttpTransport } from './http.ts';

/**
 * Options of the registry transports: TLS and retry settings, explicit credentials (else an Entra
 * ID token for ACR, else env vars and the Docker config, see credentials.ts), and where the Docker
 * config lives.
 */
export interface RegistryOptions extends RegistryClientOptions {
  env?: NodeJS.ProcessEnv;
  dockerConfigDir?: string;
  /**
   * A Microsoft Entra ID access token for ACR (audience `https://containerregistry.azure.net`).
   * Used only when `credentials` is unset, and only with registries that answer with ACR's
   * challenge (see `speaksAcrOAuth`): it is exchanged at `/oauth2/exchange` for a refresh token,
   * used as identity-token credentials. Other registries fall through to env and Docker config.
   */
  entraToken?: string;
  /** Entra ID tenant sent with the exchange (optional; ACR infers it from the token). */
  tenant?: string;
}

type DockerRef = ImageReference & { transport: 'docker' };

/** ACR credentials from `options.entraToken`, or undefined when unset or the registry is not ACR-like. */
async function entraCredentials(ref: DockerRef, options: RegistryOptions): Promise<Credentials | undefined> {
  if (options.entraToken === undefined || options.entraToken === '') return undefined;
  const baseUrl = registryBaseUrl(ref.registry, options.plainHttp === true);
  const http = new HttpTransport(options);
  try {
    if (!(await speaksAcrOAuth(http, baseUrl))) return undefined;
    const input: EntraExchange = { registry: ref.registry, accessToken: options.entraToken, baseUrl };
    if (options.tenant !== undefined && options.tenant !== '') input.tenant = options.tenant;
    return await exchangeEntraToken(http, input);
  } finally {
    http.close();
  }
}

/**
 * Creates a client for `ref`'s registry. Credentials, first match wins: `options.credentials`;
 * the Entra ID token exchanged for an ACR refresh token; env vars and the Docker config.
 */
export async function connectRegistry(ref: DockerRef, options: RegistryOptions): Promise<RegistryClient> {
  let credentials = options.credentials ?? (await entraCredentials(ref, options));
  if (credentials === undefined) {
    const lookup: Parameters<typeof resolveCredentials>[0] = { registry: ref.registry };
    if (options.env !== undefined) lookup.env = options.env;
    if (options.dockerConfigDir !== undefined) lookup.dockerConfigDir = options.dockerConfigDir;
    credentials = await resolveCredentials(lookup);
  }
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
