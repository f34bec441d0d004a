/**
 * Allowed files that would let the host swap the code an enclave runs. Gramine neither hashes nor
 * checks an `sgx.allowed_files` entry, and it looks allowed entries up BEFORE trusted ones: an
 * allowed path is unchecked even when it is also listed as trusted. An entry covers its own path
 * and, as a directory, everything below it (Gramine's prefix rule: `file:/` covers the whole root).
 * So an allowed entry that covers the entrypoint (libos.entrypoint), a runtime library, or an ELF
 * file of the image (an executable or a shared library, under any of its paths, symlink aliases
 * included) makes the enclave run unchecked code, in a debug enclave as in any other.
 *
 * Order of the checks: the entrypoint and the runtime's files first (no I/O), then the image
 * files the entries cover, read in ONE content pass for their first 4 bytes (the ELF magic).
 */
import { posix } from 'node:path';
import { CconvError } from '../../errors.ts';
import { walkFilePaths } from '../../policy/index.ts';
import type { Rootfs, RootfsEntry } from '../../rootfs/types.ts';
import type { ManifestValue } from './types.ts';

/** Where an allowed entry comes from. */
export type AllowedOrigin = 'policy' | 'fragment';

/** One `sgx.allowed_files` entry as listed in the manifest. */
export interface AllowedEntry {
  /** The URI as written ('file:/', 'file:/opt/plugins/'). */
  uri: string;
  origin: AllowedOrigin;
}

/** An allowed entry that covers code, and the code it covers (the first found). */
export interface UntrustedCode {
  entry: string;
  origin: AllowedOrigin;
  /** What it covers, in words: 'the entrypoint /app/run', 'the ELF file /usr/lib/libx.so', ... */
  covers: string;
}

/** What `findUntrustedCode` checks. */
export interface UntrustedCodeInput {
  allowed: readonly AllowedEntry[];
  /** libos.entrypoint (absolute, symlink-free). */
  entrypoint: string;
  /** Absolute in-image paths of the runtime files the app loads (runtime/glibc/*); a path ending in '/' stands for a directory and what is below it. */
  runtimeFiles: readonly string[];
  rootfs: Rootfs;
  /** Stop at the first finding (the caller refuses the build). */
  firstOnly: boolean;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** An absolute allowed path, normalised as Gramine does, without a trailing '/' ('' for the root); undefined for what never covers an image path. */
function allowedPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined; // dev: entries name devices
  const path = uri.slice('file:'.length);
  if (!path.startsWith('/')) return undefined; // relative: Gramine never opens image files by such a path
  const norm = posix.normalize(path);
  return norm === '/' ? '' : norm.replace(/\/+$/, '');
}

/** Reads the first 4 bytes of each selected file in one pass; the rest of each stream is drained. */
async function elfFiles(rootfs: Rootfs, files: ReadonlySet<string>): Promise<Set<string>> {
  const elf = new Set<string>();
  await rootfs.readContents(
    (e) => files.has(e.path),
    async (e, content) => {
      let head = Buffer.alloc(0);
      for await (const chunk of content) if (head.length < 4) head = Buffer.concat([head, chunk as Buffer]);
      if (head.subarray(0, 4).equals(ELF_MAGIC)) elf.add(e.path);
    },
  );
  return elf;
}

/**
 * The allowed entries that cover code (see the module comment), each once, with the first code it
 * covers; empty when none does. Reads the covered image files' first bytes only when an entry
 * covers some and covers neither the entrypoint nor a runtime file.
 */
export async function findUntrustedCode(input: UntrustedCodeInput): Promise<UntrustedCode[]> {
  const byPath = new Map<string, AllowedEntry>();
  for (const entry of input.allowed) {
    const path = allowedPath(entry.uri);
    if (path !== undefined && !byPath.has(path)) byPath.set(path, entry);
  }
  if (byPath.size === 0) return [];
  // The entry covering absolute `path` (itself or an ancestor directory), the closest one.
  const covering = (path: string): AllowedEntry | undefined => {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf('/'))) {
      const hit = byPath.get(p);
      if (hit !== undefined || p === '') return hit;
    }
  };
  const found = new Map<AllowedEntry, string>();
  const note = (entry: AllowedEntry | undefined, covers: string): void => {
    if (entry !== undefined && !found.has(entry)) found.set(entry, covers);
  };
  const result = (): UntrustedCode[] => [...found].map(([e, covers]) => ({ entry: e.uri, origin: e.origin, covers }));

  note(covering(input.entrypoint), `the entrypoint ${input.entrypoint}`);
  for (const file of input.runtimeFiles) {
    const path = file.replace(/\/+$/, '');
    note(covering(path), `the runtime library ${file}`);
    // A directory of runtime files: an entry below it covers some of them.
    if (file.endsWith('/')) for (const [p, e] of byPath) if (p.startsWith(`${path}/`)) note(e, `the runtime library ${p}`);
  }
  if (input.firstOnly && found.size > 0) return result();

  // Image files the remaining entries cover, under every path the app can open them by.
  const candidates: Array<{ alias: string; file: RootfsEntry; entry: AllowedEntry }> = [];
  walkFilePaths(input.rootfs, (alias, file) => {
    const entry = covering(`/${alias}`);
    if (entry !== undefined && !found.has(entry) && file.size >= ELF_MAGIC.length) candidates.push({ alias, file, entry });
  });
  if (candidates.length === 0) return result();
  const elf = await elfFiles(input.rootfs, new Set(candidates.map((c) => c.file.path)));
  for (const c of candidates) {
    if (elf.has(c.file.path)) note(c.entry, `the ELF file /${c.alias}`);
    if (input.firstOnly && found.size > 0) break;
  }
  return result();
}

/** What `checkUntrustedCode` needs from the renderer. */
export interface UntrustedCodeCheck extends Omit<UntrustedCodeInput, 'allowed' | 'firstOnly'> {
  /** The manifest's final `sgx.allowed_files`. */
  allowedFiles: ManifestValue | undefined;
  /** The URIs the policy's selection put there; any other entry is the fragment's. */
  fromPolicy: ReadonlySet<string>;
  /** The allowUntrustedCode setting. */
  allow: boolean;
}

const ORIGIN: Record<AllowedOrigin, string> = { policy: 'an allow rule of the policy', fragment: 'the manifest fragment' };

/**
 * The allowed entries that cover code. Without `allow`, the first one is E_CONFIG naming the entry,
 * where it comes from and what it covers; with it, all of them are returned for the caller to
 * warn about and label.
 */
export async function checkUntrustedCode(check: UntrustedCodeCheck): Promise<UntrustedCode[]> {
  const allowed: AllowedEntry[] = [];
  for (const v of Array.isArray(check.allowedFiles) ? check.allowedFiles : []) {
    if (typeof v === 'string') allowed.push({ uri: v, origin: check.fromPolicy.has(v) ? 'policy' : 'fragment' });
  }
  const found = await findUntrustedCode({ ...check, allowed, firstOnly: !check.allow });
  const first = found[0];
  if (first !== undefined && !check.allow) {
    throw new CconvError('E_CONFIG', `sgx.allowed_files entry ${JSON.stringify(first.entry)} (from ${ORIGIN[first.origin]}) covers ${first.covers}: Gramine does not check allowed files, so the host could replace code the enclave runs`, {
      hint: 'trust code instead (narrow or remove the allowed entry), or pass --allow-untrusted-code to build such an enclave anyway',
    });
  }
  return found;
}
