/**
 * Several whole files of a flattened image, read in one pass over its layers (`Rootfs.readFile`
 * reads one file and scans its layer on every call). For small metadata files a caller needs at
 * once: config files, ELF objects, version stamps.
 */
import type { Rootfs } from './types.ts';

/**
 * The content of each regular file at the given real paths (entry paths: no leading '/'), by
 * path. Paths that are not regular files, and files over `maxBytes`, are left out.
 */
export async function readFiles(rootfs: Rootfs, paths: Iterable<string>, maxBytes: number): Promise<Map<string, Buffer>> {
  const wanted = new Set(paths);
  const out = new Map<string, Buffer>();
  if (wanted.size === 0) return out;
  await rootfs.readContents(
    (e) => wanted.has(e.path) && e.size <= maxBytes,
    async (e, content) => {
      const parts: Buffer[] = [];
      for await (const c of content) parts.push(c as Buffer);
      out.set(e.path, Buffer.concat(parts));
    },
  );
  return out;
}
