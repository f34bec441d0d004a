/**
 * Platforms: parsing `os/arch[/variant]`, normalising (containerd's rules, reduced), matching
 * index entries and selecting the one manifest for a platform.
 */
import { CconvError } from '../errors.ts';
import type { Descriptor, Index, Platform } from './types.ts';

/** linux/amd64, the platform cconv targets by default (SGX is x86-64 only). */
export const DEFAULT_PLATFORM: Readonly<Platform> = Object.freeze({ os: 'linux', architecture: 'amd64' });

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };
const PART_RE = /^[a-z0-9][a-z0-9._-]*$/;

/** Parses `os/arch[/variant]` (e.g. `linux/arm64/v8`); throws E_USAGE when malformed. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART_RE.test(p))) {
    throw new CconvError('E_USAGE', `invalid platform ${JSON.stringify(text)}`, { hint: 'use os/arch[/variant], e.g. linux/amd64' });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/arch[/variant]` of a platform. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

/**
 * Normalises aliases and default variants: x86_64 -> amd64 (amd64 variants are ignored),
 * aarch64 -> arm64 with default variant v8, arm with default variant v7.
 */
export function normalizePlatform(p: Platform): { os: string; architecture: string; variant: string | undefined } {
  const os = p.os.toLowerCase();
  const architecture = ARCH_ALIASES[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant === undefined || p.variant === '' ? undefined : p.variant.toLowerCase();
  if (architecture === 'amd64') variant = undefined;
  else if (architecture === 'arm64') variant ??= 'v8';
  else if (architecture === 'arm') variant ??= 'v7';
  return { os, architecture, variant };
}

/** True when `candidate` (an index entry's or config's platform) satisfies `wanted`. */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (candidate === undefined) return false;
  const a = normalizePlatform(wanted);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/**
 * Selects the entry of `index` for `wanted` (default linux/amd64): the first matching entry in
 * index order. Throws E_PLATFORM_NOT_FOUND listing the platforms the index offers.
 */
export function selectManifest(index: Pick<Index, 'manifests'>, wanted: Platform = DEFAULT_PLATFORM): Descriptor {
  const found = index.manifests.find((d) => platformMatches(wanted, d.platform));
  if (found !== undefined) return found;
  const available = [...new Set(index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : '(none)')))];
  throw new CconvError('E_PLATFORM_NOT_FOUND', `no manifest for platform ${formatPlatform(wanted)}; available: ${available.join(', ') || '(none)'}`, {
    hint: 'choose one of the available platforms with --platform',
  });
}
