/**
 * Docker image names (distribution/reference grammar) normalised as `docker` resolves them:
 * no registry -> docker.io, a single-component repository on docker.io -> library/NAME,
 * index.docker.io -> docker.io. Tags are not defaulted here.
 */
import { CconvError } from '../errors.ts';
import { parseDigest } from '../image/digest.ts';
import type { Digest } from '../image/types.ts';

/** The registry host of Docker Hub as cconv writes it. */
export const DOCKER_HUB = 'docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const MAX_NAME = 255;

/** A parsed Docker name: registry host[:port], repository path, optional tag and digest. */
export interface DockerName {
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

/** Throws E_REF_INVALID for `text`, with `detail` and the hint `hint`. */
export function refError(text: string, detail: string, hint: string): never {
  throw new CconvError('E_REF_INVALID', `invalid image reference ${JSON.stringify(text)}: ${detail}`, { hint });
}

/** True when `tag` matches the distribution tag grammar. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/**
 * Parses `[REGISTRY/]REPO[:TAG][@DIGEST]`. The first path component is a registry when it has a
 * '.' or ':' or is `localhost` (docker's rule). `hint` is used in E_REF_INVALID errors.
 */
export function parseDockerName(text: string, hint: string): DockerName {
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch {
      refError(text, 'the part after "@" is not a sha256/sha512 digest', hint);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) refError(text, `invalid tag ${JSON.stringify(tag)}`, hint);
  }
  if (rest === '') refError(text, 'empty name', hint);
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) refError(text, `invalid registry ${JSON.stringify(first)}`, hint);
    registry = first === 'index.docker.io' ? DOCKER_HUB : first;
    parts.shift();
  }
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) {
      const why = p !== p.toLowerCase() ? 'repository names must be lowercase' : `invalid path component ${JSON.stringify(p)}`;
      refError(text, why, hint);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (registry === DOCKER_HUB && HEX64.test(parts[parts.length - 1]!) && parts.length === 2 && parts[0] === 'library') {
    refError(text, 'a 64-hex name is an image ID, not a repository', hint);
  }
  if (`${registry}/${repository}`.length > MAX_NAME) refError(text, `name longer than ${MAX_NAME} characters`, hint);
  const name: DockerName = { registry, repository };
  if (tag !== undefined) name.tag = tag;
  if (digest !== undefined) name.digest = digest;
  return name;
}

/** `registry/repository[:tag][@digest]`. */
export function formatDockerName(name: DockerName): string {
  return `${name.registry}/${name.repository}${name.tag !== undefined ? `:${name.tag}` : ''}${name.digest !== undefined ? `@${name.digest}` : ''}`;
}

/** The short form docker prints: docker.io and library/ dropped (`alpine:3`, `me/app:1`). */
export function familiarName(name: DockerName): string {
  let repo = name.repository;
  if (name.registry === DOCKER_HUB && repo.startsWith('library/') && repo.split('/').length === 2) repo = repo.slice(8);
  const full = name.registry === DOCKER_HUB ? repo : `${name.registry}/${repo}`;
  return `${full}${name.tag !== undefined ? `:${name.tag}` : ''}${name.digest !== undefined ? `@${name.digest}` : ''}`;
}
