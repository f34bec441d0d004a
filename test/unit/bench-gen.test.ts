/**
 * The benchmark's generated inputs are deterministic and exactly the planned size: the same spec
 * gives byte-identical OCI layouts (index, manifests, blobs), and the file plan sums to the spec.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { generateImage } from '../../bench/gen.ts';
import { IMAGE_SPECS, planFiles, planLayers } from '../../bench/tree.ts';

test('file plans sum to the spec and layers partition the files', (t) => {
  for (const spec of Object.values(IMAGE_SPECS)) {
    const files = planFiles(spec);
    t.is(files.length, spec.files, spec.name);
    t.is(files.reduce((n, f) => n + f.size, 0), spec.bytes, spec.name);
    t.is(new Set(files.map((f) => f.path)).size, spec.files, `${spec.name}: unique paths`);
    const layers = planLayers(spec);
    t.is(layers.reduce((n, l) => n + l.files.length, 0), spec.files, spec.name);
  }
});

test('generating the tiny image twice gives identical layouts', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'cconv-bench-gen-'));
  try {
    const a = await generateImage(IMAGE_SPECS.tiny!, join(work, 'a'));
    const b = await generateImage(IMAGE_SPECS.tiny!, join(work, 'b'));
    const index = await readFile(join(work, 'a', 'index.json'));
    t.deepEqual(index, await readFile(join(work, 'b', 'index.json')));
    const blobs = (await readdir(join(work, 'a', 'blobs', 'sha256'))).sort();
    t.deepEqual(blobs, (await readdir(join(work, 'b', 'blobs', 'sha256'))).sort());
    t.is(blobs.length, 2 * a.layers.length + 3); // gzip + zstd per layer, config, two manifests
    for (const name of blobs) {
      const bytes = await readFile(join(work, 'a', 'blobs', 'sha256', name));
      t.is(createHash('sha256').update(bytes).digest('hex'), name);
    }
    t.deepEqual(a.layers.map((l) => l.diffId), b.layers.map((l) => l.diffId));
    for (const l of a.layers) {
      const tar = gunzipSync(await readFile(l.gz));
      t.is(tar.length, l.tarBytes);
      t.is(createHash('sha256').update(tar).digest('hex'), l.diffId);
      t.deepEqual(await readFile(l.tar), tar);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
