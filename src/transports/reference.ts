/**
 * Image reference strings, `transport:details` as in containers/image, plus bare Docker names:
 *
 *   oci:DIR[:TAG]                        OCI image layout directory; TAG matches org.opencontainers.image.ref.name.
 *                                        The tag is split at the last ':' that comes after the last '/', so DIR
 *                                        may contain ':' in any but its last component (containers/image splits
 *                                        at the first ':' instead, forbidding ':' in DIR).
 *   docker-archive:FILE[:NAME[:TAG]]     `docker save` tar; FILE ends at the first ':' (containers/image rule);
 *                                        NAME:TAG selects by RepoTags and is kept in familiar form (`myapp:latest`).
 *   docker-daemon:NAME[:TAG|@DIGEST]     image in the local Docker daemon.
 *   docker://[REGISTRY/]REPO[:TAG|@DIGEST]  image in a registry.
 *   NAME[:TAG|@DIGEST]                   anything else: the local Docker daemon, as `docker` resolves NAME.
 *
 * Docker names are normalised like docker does (docker.io, library/, default tag latest when
 * neither tag nor digest is given).
 */
import type { ImageReference } from './types.ts';
import { familiarName, formatDockerName, parseDockerName, refError, type DockerName } from './docker-name.ts';

/** The accepted forms, shown as the hint of every E_REF_INVALID. */
export const REFERENCE_FORMS =
  'use oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG], docker-daemon:NAME[:TAG|@DIGEST], ' +
  'docker://[REGISTRY/]REPO[:TAG|@DIGEST], or NAME[:TAG] for the local Docker daemon';

const OCI_TAG = /^[A-Za-z0-9]+(?:(?:[-._@+]|--)[A-Za-z0-9]+)*$/;

function withDefaultTag(name: DockerName): DockerName {
  return name.tag === undefined && name.digest === undefined ? { ...name, tag: 'latest' } : name;
}

function parseOci(text: string, rest: string): ImageReference {
  const colon = rest.lastIndexOf(':');
  const split = colon > rest.lastIndexOf('/');
  const dir = split ? rest.slice(0, colon) : rest;
  if (dir === '') refError(text, 'missing directory', REFERENCE_FORMS);
  if (!split) return { transport: 'oci', dir };
  const tag = rest.slice(colon + 1);
  if (!OCI_TAG.test(tag)) refError(text, `invalid tag ${JSON.stringify(tag)}`, REFERENCE_FORMS);
  return { transport: 'oci', dir, tag };
}

function parseArchive(text: string, rest: string): ImageReference {
  const colon = rest.indexOf(':');
  const file = colon < 0 ? rest : rest.slice(0, colon);
  if (file === '') refError(text, 'missing file', REFERENCE_FORMS);
  if (colon < 0) return { transport: 'docker-archive', file };
  const name = parseDockerName(rest.slice(colon + 1), REFERENCE_FORMS);
  if (name.digest !== undefined) refError(text, 'a docker-archive name cannot have a digest', REFERENCE_FORMS);
  return { transport: 'docker-archive', file, tag: familiarName(withDefaultTag(name)) };
}

function daemonRef(text: string): ImageReference {
  const name = withDefaultTag(parseDockerName(text, REFERENCE_FORMS));
  const ref: ImageReference = { transport: 'docker-daemon', name: `${name.registry}/${name.repository}` };
  if (name.tag !== undefined) ref.tag = name.tag;
  if (name.digest !== undefined) ref.digest = name.digest;
  return ref;
}

function registryRef(text: string, rest: string): ImageReference {
  const name = withDefaultTag(parseDockerName(rest, REFERENCE_FORMS));
  return { transport: 'docker', ...name };
}

/** Parses an image reference (see the module comment); throws E_REF_INVALID with the accepted forms as hint. */
export function parseReference(text: string): ImageReference {
  if (text === '' || /\s/.test(text)) refError(text, text === '' ? 'empty' : 'contains whitespace', REFERENCE_FORMS);
  if (text.startsWith('docker://')) return registryRef(text, text.slice('docker://'.length));
  if (text.startsWith('oci:')) return parseOci(text, text.slice('oci:'.length));
  if (text.startsWith('docker-archive:')) return parseArchive(text, text.slice('docker-archive:'.length));
  if (text.startsWith('docker-daemon:')) return daemonRef(text.slice('docker-daemon:'.length));
  return daemonRef(text);
}

/** The canonical string of a reference; `parseReference(formatReference(r))` equals `r`. */
export function formatReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'oci':
      return `oci:${ref.dir}${ref.tag !== undefined ? `:${ref.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${ref.file}${ref.tag !== undefined ? `:${ref.tag}` : ''}`;
    case 'docker-daemon':
      return `docker-daemon:${ref.name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
    case 'docker':
      return `docker://${formatDockerName(ref)}`;
  }
}
