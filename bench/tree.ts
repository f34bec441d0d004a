/**
 * The generated image trees: a Python-like root filesystem (many small .py/.pyc/.so files in
 * package directories plus a few large shared libraries), split over two layers. Pure planning:
 * sizes and names come from a seeded PRNG, so the same spec gives the same tree everywhere.
 */
import { Prng, type ContentKind } from './content.ts';

/** A named image size of the suite. */
export interface ImageSpec {
  name: string;
  /** Target content bytes (sum of file sizes). */
  bytes: number;
  files: number;
  /** Number of large files (they hold `largeShare` of the bytes). */
  large: number;
  largeShare: number;
}

const MB = 1_000_000;

/** The image sizes: `tiny` is for --quick only; `large` is opt-in (see run.ts). */
export const IMAGE_SPECS: Record<string, ImageSpec> = {
  tiny: { name: 'tiny', bytes: 4 * MB, files: 200, large: 2, largeShare: 0.4 },
  small: { name: 'small', bytes: 100 * MB, files: 1_000, large: 4, largeShare: 0.4 },
  medium: { name: 'medium', bytes: 1_000 * MB, files: 20_000, large: 4, largeShare: 0.4 },
  large: { name: 'large', bytes: 4_000 * MB, files: 100_000, large: 8, largeShare: 0.4 },
};

/** One regular file of a planned tree; `path` has no leading '/'. */
export interface PlannedFile {
  path: string;
  size: number;
  kind: ContentKind;
  seed: number;
}

/** A planned layer: its directories (parents first) and files, both sorted by path. */
export interface PlannedLayer {
  dirs: string[];
  files: PlannedFile[];
}

const FILES_PER_DIR = 40;

/** Sizes of the small files: log-uniform 100 B .. 256 KiB, then scaled to sum to `total`. */
function smallSizes(r: Prng, count: number, total: number): number[] {
  const raw = Array.from({ length: count }, () => Math.exp(Math.log(100) + r.float() * (Math.log(262_144) - Math.log(100))));
  const sum = raw.reduce((a, b) => a + b, 0);
  const sizes = raw.map((x) => Math.max(1, Math.floor((x * total) / sum)));
  sizes[0]! += total - sizes.reduce((a, b) => a + b, 0); // exact total
  return sizes;
}

/** All files of `spec`'s tree, in generation order (not sorted). */
export function planFiles(spec: ImageSpec): PlannedFile[] {
  const r = new Prng(0xc0c0 ^ spec.files);
  const largeBytes = Math.floor(spec.bytes * spec.largeShare);
  const out: PlannedFile[] = [];
  for (let i = 0; i < spec.large; i++) {
    const size = Math.floor(largeBytes / spec.large) + (i === 0 ? largeBytes % spec.large : 0);
    out.push({ path: `usr/lib/x86_64-linux-gnu/libbig${i}.so.1`, size, kind: 'bin', seed: r.next() });
  }
  const n = spec.files - spec.large;
  const sizes = smallSizes(r, n, spec.bytes - largeBytes);
  for (let i = 0; i < n; i++) {
    const pkg = Math.floor(i / FILES_PER_DIR);
    const dir = `usr/lib/python3.12/site-packages/pkg${String(Math.floor(pkg / 50)).padStart(3, '0')}/mod${String(pkg % 50).padStart(2, '0')}`;
    const ext = i % 10 === 9 ? 'so' : i % 3 === 0 ? 'pyc' : 'py';
    out.push({ path: `${dir}/f${String(i).padStart(6, '0')}.${ext}`, size: sizes[i]!, kind: ext === 'py' ? 'text' : 'bin', seed: r.next() });
  }
  return out;
}

/** Splits the tree into two layers (a base with half the large files and 60% of the rest, then the app). */
export function planLayers(spec: ImageSpec): PlannedLayer[] {
  const files = planFiles(spec);
  const base = files.filter((f, i) => (i < spec.large ? i % 2 === 0 : i % 5 < 3));
  const app = files.filter((f, i) => (i < spec.large ? i % 2 === 1 : i % 5 >= 3));
  return [base, app].map((list) => {
    const sorted = [...list].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const dirs = new Set<string>();
    for (const f of sorted) {
      const parts = f.path.split('/');
      for (let k = 1; k < parts.length; k++) dirs.add(parts.slice(0, k).join('/'));
    }
    return { dirs: [...dirs].sort(), files: sorted };
  });
}
