/** The image an attestation is about: a `docker://` reference resolved to its manifest, config labels and a client. */
import { CconvError } from '../errors.ts';
import type { Descriptor } from '../image/types.ts';
import type { Platform } from '../image/types.ts';
import { formatReference, parseReference } from '../transports/reference.ts';
import { RegistrySource, connectRegistry, type RegistryClient, type RegistryOptions } from '../transports/registry/index.ts';
import type { ImageReference } from '../transports/types.ts';

type DockerRef = ImageReference & { transport: 'docker' };

/** A resolved registry image. `close()` releases the client. */
export interface AttestationTarget {
  reference: DockerRef;
  /** `registry/repository`: the statement subject name. */
  name: string;
  /** The platform manifest (an index is resolved to `platform`). */
  descriptor: Descriptor;
  labels: Record<string, string>;
  client: RegistryClient;
  close(): void;
}

/** Parses `reference` (string or parsed) and requires the docker transport (E_USAGE otherwise). */
export function dockerReference(reference: string | ImageReference): DockerRef {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  if (ref.transport !== 'docker') {
    throw new CconvError('E_USAGE', `attestations live in a registry: ${formatReference(ref)} is not a docker:// reference`, { hint: 'push the image first, then use docker://REGISTRY/REPOSITORY:TAG' });
  }
  return ref;
}

/** Opens the image behind `reference` and a client for its repository. */
export async function openTarget(reference: string | ImageReference, options: { registry?: RegistryOptions; platform?: Platform } = {}): Promise<AttestationTarget> {
  const ref = dockerReference(reference);
  const registry = options.registry ?? {};
  const image = await new RegistrySource(ref, registry).open(options.platform === undefined ? {} : { platform: options.platform });
  try {
    const client = await connectRegistry(ref, registry);
    return {
      reference: ref,
      name: `${ref.registry}/${ref.repository}`,
      descriptor: { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifestBytes.length },
      labels: { ...(image.config.config?.Labels ?? {}) },
      client,
      close: () => client.close(),
    };
  } finally {
    await image.close();
  }
}
