/**
 * The library directories an image's own glibc would search, read from its `/etc/ld.so.conf` as
 * ldconfig reads it: one or more directories per line (separated by blanks, ',' or ':'), `#`
 * comments, `include GLOB` (relative to the including file's directory; matches sorted, each
 * read once), `hwcap` lines ignored. Only directories that exist in the image are returned, in
 * file order, each once. Files are read from the image (symlinks followed inside it), never the
 * host. Apps that install libraries under /opt/... and register them there keep working.
 */
import { posix } from 'node:path';
import { globToRegExp } from '../policy/glob.ts';
import { readFiles } from './read-files.ts';
import type { Rootfs } from './types.ts';

/** ldconfig's main file. */
export const LD_SO_CONF = '/etc/ld.so.conf';

/** Bounds against hostile images: include depth, files read, bytes per file. */
const MAX_DEPTH = 8;
const MAX_FILES = 256;
const MAX_BYTES = 1 << 20;

/** One line's meaning, in file order: a directory, or an include pattern (absolute). */
type Item = { dir: string } | { include: string };

function parse(text: string, file: string): Item[] {
  const out: Item[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const include = /^include\s+(.+)$/.exec(line);
    if (include !== null) {
      for (const pattern of include[1]!.split(/\s+/)) out.push({ include: posix.resolve(posix.dirname(file), pattern) });
      continue;
    }
    if (/^hwcap\s/.test(line)) continue;
    for (const dir of line.split(/[\s,:]+/)) {
      const path = dir.replace(/=.*$/, ''); // libc5-era "DIR=TYPE"
      if (path.startsWith('/')) out.push({ dir: posix.normalize(path).replace(/(.)\/+$/, '$1') });
    }
  }
  return out;
}

/** Absolute paths of the regular files `pattern` (absolute glob) names in the image, sorted. */
function expand(rootfs: Rootfs, pattern: string): string[] {
  const depth = pattern.split('/').length;
  let re: RegExp;
  try {
    re = globToRegExp(pattern);
  } catch {
    return []; // a pattern ldconfig would not match either
  }
  const out: string[] = [];
  for (const e of rootfs.entries()) {
    const abs = `/${e.path}`;
    if (abs.split('/').length === depth && re.test(abs) && rootfs.resolve(e.path)?.type === 'file') out.push(abs);
  }
  return out.sort();
}

/** Reads the files at absolute `paths` in one pass over the layers, by the path they were named by; missing ones are left out. */
async function readAll(rootfs: Rootfs, paths: readonly string[]): Promise<Map<string, string>> {
  const named = new Map<string, string>(); // real path -> the path it was named by
  for (const p of paths) {
    const e = rootfs.resolve(p.slice(1));
    if (e?.type === 'file') named.set(e.path, p);
  }
  const texts = new Map<string, string>();
  for (const [real, bytes] of await readFiles(rootfs, named.keys(), MAX_BYTES)) texts.set(named.get(real)!, bytes.toString('utf8'));
  return texts;
}

/**
 * The directories `/etc/ld.so.conf` (and what it includes) lists, as absolute normalised paths
 * that are directories in the image. Empty when the image has no ld.so.conf.
 */
export async function ldSoConfDirs(rootfs: Rootfs): Promise<string[]> {
  const seen = new Set<string>();
  const dirs: string[] = [];
  // Each include level is read in one pass over the layers; the order comes from walking the
  // parsed files depth-first afterwards, as ldconfig reads them.
  const parsed = new Map<string, Item[]>();
  let level = [LD_SO_CONF];
  for (let depth = 0; level.length > 0 && depth < MAX_DEPTH; depth++) {
    const fresh = level.filter((f) => !seen.has(f)).slice(0, Math.max(0, MAX_FILES - seen.size));
    for (const f of fresh) seen.add(f);
    const texts = await readAll(rootfs, fresh);
    level = [];
    for (const [file, text] of texts) {
      const items = parse(text, file);
      parsed.set(file, items);
      for (const item of items) if ('include' in item) level.push(...expand(rootfs, item.include));
    }
  }
  const visited = new Set<string>();
  const visit = (file: string, depth: number): void => {
    const items = parsed.get(file);
    if (items === undefined || depth > MAX_DEPTH || visited.has(file)) return;
    visited.add(file);
    for (const item of items) {
      if ('include' in item) {
        for (const f of expand(rootfs, item.include)) visit(f, depth + 1);
      } else if (!dirs.includes(item.dir) && rootfs.resolve(item.dir.slice(1))?.type === 'dir') {
        dirs.push(item.dir);
      }
    }
  };
  visit(LD_SO_CONF, 0);
  return dirs;
}
