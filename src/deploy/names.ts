/**
 * Names and references in the generated objects: the image pinned by digest, object names
 * (DNS-1035 labels, so the same name is valid for the Deployment, its container and the Service)
 * and the container ports from the image config's ExposedPorts.
 */
import { CconvError } from '../errors.ts';
import { parseDigest, type ContainerConfig } from '../image/index.ts';
import { parseDockerName } from '../transports/index.ts';

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;

/** True when `name` is a DNS-1035 label (lowercase alphanumerics and '-', starts with a letter, at most 63). */
export function isDns1035Label(name: string): boolean {
  return name.length <= MAX_LABEL && DNS1035.test(name);
}

/** True when `name` is a DNS-1123 label (as a namespace name must be). */
export function isDns1123Label(name: string): boolean {
  return name.length <= MAX_LABEL && DNS1123_LABEL.test(name);
}

/**
 * A DNS-1035 label made from any text: lowercased, every run of other characters replaced by
 * one '-', leading non-letters dropped, cut to 63 characters without a trailing '-'; "app" when
 * nothing is left. Deterministic; `sanitizeName(x)` is a fixed point for valid labels.
 */
export function sanitizeName(text: string): string {
  let s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  s = s.replace(/^[^a-z]+/, '');
  s = s.slice(0, MAX_LABEL).replace(/-+$/, '');
  return s === '' ? 'app' : s;
}

/**
 * The image reference a Deployment runs: `REGISTRY/REPO@DIGEST`, the tag dropped so a re-tag
 * cannot change what runs. Errors: E_REF_INVALID (bad name), E_DIGEST_INVALID (bad digest),
 * E_USAGE (no digest, or two that differ).
 */
export function imageByDigest(image: string, digest?: string): { ref: string; repository: string } {
  const text = image.startsWith('docker://') ? image.slice('docker://'.length) : image;
  const name = parseDockerName(text, 'give the pushed image as [REGISTRY/]REPO[:TAG], e.g. myacr.azurecr.io/app:1');
  const given = digest === undefined ? undefined : parseDigest(digest, 'image digest');
  if (given !== undefined && name.digest !== undefined && given !== name.digest) {
    throw new CconvError('E_USAGE', `the image reference pins ${name.digest} but the digest given is ${given}`);
  }
  const pinned = given ?? name.digest;
  if (pinned === undefined) {
    throw new CconvError('E_USAGE', 'a Deployment needs the image digest', {
      hint: 'deploy a pushed image: its manifest digest pins exactly what was measured',
    });
  }
  return { ref: `${name.registry}/${name.repository}@${pinned}`, repository: name.repository };
}

/** The default object name: the repository's last path component, sanitised. */
export function defaultName(repository: string): string {
  const parts = repository.split('/');
  return sanitizeName(parts[parts.length - 1] ?? repository);
}

/** A port the image exposes. */
export interface ExposedPort {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** IANA_SVC_NAME (at most 15 characters): "tcp-8080". */
  name: string;
}

/**
 * ExposedPorts ("80/tcp", "53/udp", "8080") as ports sorted by number then protocol. E_CONFIG
 * for a key that is not PORT[/tcp|udp|sctp] with PORT 1..65535 (port ranges are not allowed in
 * an image config's ExposedPorts).
 */
export function exposedPorts(config: ContainerConfig | undefined): ExposedPort[] {
  const out: ExposedPort[] = [];
  for (const key of Object.keys(config?.ExposedPorts ?? {})) {
    const m = /^([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(key);
    const port = m ? Number(m[1]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new CconvError('E_CONFIG', `image config: exposed port ${JSON.stringify(key)} is not PORT[/tcp|udp|sctp]`);
    }
    const protocol = (m[2] ?? 'tcp').toUpperCase() as ExposedPort['protocol'];
    if (!out.some((p) => p.port === port && p.protocol === protocol)) {
      out.push({ port, protocol, name: `${protocol.toLowerCase()}-${port}` });
    }
  }
  return out.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}
