/**
 * Transports: reference parsing and the one dispatch point from a reference to its source or
 * destination. The docker-daemon and docker (registry) transports live in daemon/ and registry/.
 */
import { DockerArchiveDestination } from './docker-archive-dest.ts';
import { DockerArchiveSource } from './docker-archive.ts';
import { OciLayoutDestination } from './oci-layout-dest.ts';
import { OciLayoutSource } from './oci-layout.ts';
import { DaemonDestination, DaemonSource, type DaemonDestinationOptions, type DaemonOptions } from './daemon/index.ts';
import { RegistryDestination, RegistrySource, type RegistryDestinationOptions, type RegistryOptions } from './registry/index.ts';
import type { ImageDestination, ImageReference, ImageSource } from './types.ts';

export type { ImageDestination, ImageReference, ImageSource, OpenOptions } from './types.ts';
export { REFERENCE_FORMS, formatReference, parseReference } from './reference.ts';
export type { DockerName } from './docker-name.ts';
export { DOCKER_HUB, familiarName, formatDockerName, parseDockerName } from './docker-name.ts';
export { OciLayoutSource, REF_NAME, layoutTags, readLayoutIndex } from './oci-layout.ts';
export { OciLayoutDestination } from './oci-layout-dest.ts';
export { DockerArchiveSource, parseArchiveManifest } from './docker-archive.ts';
export { DockerArchiveDestination } from './docker-archive-dest.ts';
export { blobPath, openFileBlob } from './fs-blob.ts';

export type { CopyOptions, CopyResult } from './copy.ts';
export { copyImage } from './copy.ts';
/** Stores a blob from a local file (kernel copy) or a stream, the destination verifying. */
export { putBlobFrom, type BlobSource } from './put-blob.ts';

/** Options of `openSource` for the transports that take some (registry: TLS, credentials, retries; daemon: client). */
export interface SourceOptions {
  registry?: RegistryOptions;
  daemon?: DaemonOptions;
}

/**
 * Options of `openDestination` (oci and docker-archive take none: temp files go next to the output
 * so the final rename is atomic).
 */
export interface DestinationOptions {
  registry?: RegistryDestinationOptions;
  daemon?: DaemonDestinationOptions;
}

/** The source for `ref`; nothing is read until `open()`. */
export function openSource(ref: ImageReference, options: SourceOptions = {}): ImageSource {
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutSource(ref);
    case 'docker-archive':
      return new DockerArchiveSource(ref);
    case 'docker-daemon':
      return new DaemonSource(ref, options.daemon);
    case 'docker':
      return new RegistrySource(ref, options.registry);
  }
}

/** The destination for `ref`; nothing is written until the first putBlob (daemon: E_USAGE without a tag). */
export function openDestination(ref: ImageReference, options: DestinationOptions = {}): ImageDestination {
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutDestination(ref);
    case 'docker-archive':
      return new DockerArchiveDestination(ref);
    case 'docker-daemon':
      return new DaemonDestination(ref, options.daemon);
    case 'docker':
      return new RegistryDestination(ref, options.registry);
  }
}
