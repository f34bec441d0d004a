/**
 * Property test of flatten over random layer stacks (fast-check): files, directories, symlinks,
 * hardlinks, whiteouts, opaque markers, ustar/PAX/GNU long names, hostile names and NULs, small
 * entry limits, gzip and zstd layers, cut or mislabelled blobs and flipped bytes. Invariants, for
 * every case: (1) flatten gives exactly the tree of the reference model (test/helpers/layer-model.ts:
 * paths in order, types, modes, link targets, sizes and sha256, also as readContents delivers them),
 * or refuses with a CconvError whose code the model expects (any code where bytes were damaged),
 * never another error; (2) it settles within 2 s; (3) it writes nothing (fs calls that write are
 * counted while it runs). Seeded: FUZZ_SEED (default below; `random` picks one and names it in the
 * test title) and FUZZ_RUNS (default 250; `npm run fuzz` runs 10,000 from a random seed); a failure
 * prints the seed, the shrunk case, the reason and how to replay it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import fc from 'fast-check';
import { CconvError } from '../../src/errors.ts';
import { createLayer } from '../../src/image/layer.ts';
import type { Compression, Digest } from '../../src/image/types.ts';
import { flatten, type Rootfs } from '../../src/rootfs/index.ts';
import { countWrites } from '../helpers/fs-writes.ts';
import { encodeMember, type Member } from '../helpers/fuzz-tar.ts';
import { expectFlatten, type Expected, type LayerState, type ModelNode } from '../helpers/layer-model.ts';
import { fakeLayer } from '../helpers/tar.ts';

const SEED = process.env['FUZZ_SEED'] === 'random' ? Date.now() % 2 ** 31 : Number(process.env['FUZZ_SEED'] ?? 0x17f22);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 250);
const CASE_MS = 2000;

// ---- generators ----------------------------------------------------------------------------
// Weighted so that about half the cases are valid stacks (their trees are compared) and the rest
// meet one hostile or damaged ingredient (its refusal code is compared).
const component = fc.oneof(
  { weight: 80, arbitrary: fc.constantFrom('a', 'b', 'c') },
  { weight: 5, arbitrary: fc.constantFrom('é', 'n'.repeat(101), 'n'.repeat(255)) },
  { weight: 3, arbitrary: fc.constantFrom('.', '..', '.wh.a', '.wh..wh..opq', '.wh..wh.plnk', 'n'.repeat(256)) },
);
/** Mostly directories a-c and other leaves f, g, so that a file blocks a directory's path now and then, not always. */
const leaf = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('f', 'g') }, { weight: 1, arbitrary: component });
const relPath = fc.tuple(fc.array(component, { maxLength: 2 }), leaf).map(([d, l]) => [...d, l].join('/'));
const dirPath = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
const prefix = fc.oneof({ weight: 30, arbitrary: fc.constant('') }, { weight: 4, arbitrary: fc.constant('./') }, { weight: 1, arbitrary: fc.constant('/') });
const path = fc.tuple(prefix, relPath).map(([p, r]) => p + r);
const mode = fc.constantFrom(0o644, 0o755, 0o600, 0o4755, 0o1777);
const contents = [Buffer.alloc(0), Buffer.from('x'), Buffer.from('hello\n'), Buffer.alloc(1500, 7)];
const enc = fc.constantFrom('ustar', 'pax', 'gnu') as fc.Arbitrary<Member['enc']>;
const nul = fc.oneof({ weight: 80, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('path', 'linkpath') as fc.Arbitrary<'path' | 'linkpath'> });
const symlinkTarget = fc.oneof({ weight: 12, arbitrary: relPath }, { weight: 3, arbitrary: path }, { weight: 1, arbitrary: fc.constantFrom('../../x', 'a/../../..') });
const kind = fc.oneof(
  { weight: 5, arbitrary: fc.constant('file' as const) },
  { weight: 3, arbitrary: fc.constantFrom('dir', 'symlink', 'whiteout') },
  { weight: 2, arbitrary: fc.constantFrom('hardlink', 'opaque') },
);

/** A member before hardlinks are resolved: `pick` chooses the earlier file a hardlink names. */
const rawMember = fc
  .record({ kind, name: path, dir: fc.tuple(prefix, dirPath).map(([p, d]) => p + d), wh: component, link: symlinkTarget, pick: fc.nat(), content: fc.nat(contents.length - 1), mode, top: fc.boolean(), enc, nul })
  .map((r): Member & { pick?: number } => {
    const common = { mode: r.mode, enc: r.enc, ...(r.nul === 'path' ? { nul: 'path' as const } : {}) };
    if (r.kind === 'whiteout' || r.kind === 'opaque') {
      const base = r.kind === 'opaque' ? '.wh..wh..opq' : `.wh.${r.wh}`;
      return { kind: 'file', name: r.top ? base : `${r.dir}/${base}`, content: Buffer.alloc(0), ...common };
    }
    if (r.kind === 'file') return { kind: 'file', name: r.name, content: contents[r.content]!, ...common };
    if (r.kind === 'dir') return { kind: 'dir', name: r.top ? `${r.dir}/` : r.dir, ...common };
    const nulLink = r.nul === 'linkpath' ? { nul: 'linkpath' as const } : {};
    if (r.kind === 'symlink') return { kind: 'symlink', name: r.name, link: r.link, ...common, ...nulLink };
    return { kind: 'hardlink', name: r.name, link: r.link, pick: r.pick, ...common, ...nulLink };
  });

type Damage = { kind: 'none' } | { kind: 'cut'; at: number; onMember: boolean } | { kind: 'flip'; at: number; xor: number };
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 24, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), onMember: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
);
const layerSpec = fc.record({
  members: fc.array(rawMember, { maxLength: 6 }),
  damage,
  compression: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'gzip', 'gzip', 'zstd') as fc.Arbitrary<Compression>,
  /** The media type names another compression than the blob has: none, or the first (0) or second (1) other. */
  mislabel: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(0, 1) }),
  zstdCli: fc.boolean(),
});
const imageSpec = fc
  .record({
    layers: fc.array(layerSpec, { minLength: 1, maxLength: 4 }),
    maxEntries: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }),
  })
  .map(({ layers, maxEntries }) => ({ layers: layers.map((l, i) => ({ ...l, members: l.members.map((m, j) => resolveHardlink(m, layers, i, j)) })), maxEntries }));
type LayerSpec = { members: Member[]; damage: Damage; compression: Compression; mislabel: 0 | 1 | undefined; zstdCli: boolean };

/**
 * Three hardlinks in four name a file written before them (as stored; a regular file when there is
 * none), the fourth a random path.
 */
function resolveHardlink(m: Member & { pick?: number }, layers: ReadonlyArray<{ members: ReadonlyArray<Member & { pick?: number }> }>, li: number, mi: number): Member {
  const { pick, ...member } = m;
  if (pick === undefined || pick % 4 === 3) return member;
  const earlier = layers
    .slice(0, li + 1)
    .flatMap((l, i) => (i < li ? l.members : l.members.slice(0, mi)))
    .filter((e) => e.kind === 'file' && !(e.name.split('/').pop() ?? '').startsWith('.wh.'));
  if (earlier.length === 0) return { kind: 'file', name: member.name, content: contents[1]!, mode: member.mode, enc: member.enc };
  return { ...member, link: earlier[pick % earlier.length]!.name };
}

// ---- building the layers -------------------------------------------------------------------
const MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};
const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

function compress(tar: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(tar, { level: 1 });
  if (c === 'zstd') return execFileSync('zstd', ['-q', '-1', '-c'], { input: tar });
  return tar;
}

/** The layer flatten reads, and what the model is told about its bytes. */
function build(index: number, spec: LayerSpec): { layer: Parameters<typeof flatten>[0]['layers'][number]; state: LayerState } {
  const units = spec.members.map(encodeMember);
  const ends = units.reduce<number[]>((acc, u) => [...acc, acc[acc.length - 1]! + u.length], [0]);
  let tar = Buffer.concat([...units, Buffer.alloc(1024)]);
  let state: LayerState = { kind: 'intact' };
  if (spec.damage.kind === 'flip') {
    tar = Buffer.from(tar);
    tar[spec.damage.at % tar.length]! ^= spec.damage.xor;
    state = { kind: 'damaged' };
  }
  const whole = compress(tar, spec.compression);
  let blob = whole;
  if (spec.damage.kind === 'cut') {
    const at = spec.damage.onMember && spec.compression === 'none' ? ends[spec.damage.at % ends.length]! : spec.damage.at % (whole.length + 1);
    blob = whole.subarray(0, at);
    if (spec.compression === 'none') state = cutState(ends, at);
    else if (at < whole.length) state = { kind: 'refused' };
  }
  const declared = spec.mislabel === undefined ? spec.compression : (['none', 'gzip', 'zstd'] as const).filter((c) => c !== spec.compression)[spec.mislabel]!;
  // No bytes: an empty tar, but no gzip or zstd stream; other bytes than the media type says: refused.
  if (blob.length === 0) state = declared === 'none' ? { kind: 'prefix', keep: 0 } : { kind: 'refused' };
  else if (declared !== spec.compression) state = { kind: 'refused' };
  if (declared === 'none' && spec.compression === 'none') return { layer: fakeLayer(index, blob, { chunk: 700 }), state };
  const pieces = Array.from({ length: Math.ceil(blob.length / 700) }, (_, i) => blob.subarray(i * 700, (i + 1) * 700));
  const layer = createLayer({
    index,
    descriptor: { mediaType: MEDIA[declared], digest: sha(blob), size: blob.length },
    diffId: declared === 'none' ? sha(blob) : sha(tar),
    openBlob: async () => Readable.from(pieces),
    decode: { zstd: spec.zstdCli ? 'cli' : 'js' },
  });
  return { layer, state };
}

/** An uncompressed tar cut at `at`: whole members, past the first end-of-archive block, or refused. */
function cutState(ends: number[], at: number): LayerState {
  const members = ends[ends.length - 1]!;
  if (at >= members + 512) return { kind: 'intact' };
  const keep = ends.indexOf(at);
  return keep >= 0 ? { kind: 'prefix', keep } : { kind: 'refused' };
}

// ---- checking ------------------------------------------------------------------------------
/** Model paths in listing order: depth-first, each directory's children bytewise by name. */
function modelOrder(tree: Map<string, ModelNode>): string[] {
  const key = (p: string) => p.split('/').map((c) => Buffer.from(c));
  return [...tree.keys()].filter((p) => p !== '').sort((a, b) => {
    const x = key(a);
    const y = key(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = Buffer.compare(x[i]!, y[i]!);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  });
}

function describeNode(n: { type: string; mode: number; target?: string | undefined; size?: number | undefined; sha256?: string | undefined }): string {
  if (n.type === 'file') return `file ${n.mode.toString(8)} ${n.size} ${n.sha256}`;
  if (n.type === 'symlink') return `symlink -> ${n.target}`;
  return `${n.type} ${n.mode.toString(8)}`;
}

async function checkTree(fs: Rootfs, tree: Map<string, ModelNode>): Promise<void> {
  const got = [...fs.entries()].map((e) => `${e.path}: ${describeNode({ ...e, target: e.linkTarget })}`);
  const want = modelOrder(tree).map((p) => `${p}: ${describeNode(tree.get(p)!)}`);
  if (got.join('\n') !== want.join('\n')) throw new Error(`tree differs from the model\n--- flatten\n${got.join('\n')}\n--- model\n${want.join('\n')}`);
  for (const e of fs.entries()) {
    if (e.hardlinkTo !== undefined && fs.get(e.hardlinkTo)?.sha256 !== e.sha256) throw new Error(`${e.path}: hardlinkTo ${e.hardlinkTo} has other content`);
  }
  const read = new Map<string, string>();
  await fs.readContents(
    () => true,
    async (e, s) => {
      const h = createHash('sha256');
      for await (const c of s) h.update(c as Buffer);
      read.set(e.path, h.digest('hex'));
    },
  );
  for (const [p, n] of tree) if (n.type === 'file' && read.get(p) !== n.sha256) throw new Error(`${p}: readContents gave ${read.get(p)}, the model ${n.sha256}`);
}

/** Thrown when a case does not settle in time (a hang, never an expected outcome). */
class Hang extends Error {}

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hang(`flatten did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Checks one case; returns how it ended (for the tally the test logs). */
async function runCase(spec: typeof imageSpec extends fc.Arbitrary<infer T> ? T : never): Promise<string> {
  const built = spec.layers.map((l, i) => build(i, l));
  const expected: Expected = expectFlatten(
    spec.layers.map((l, i) => ({ members: l.members, state: built[i]!.state })),
    spec.maxEntries,
  );
  const limits = spec.maxEntries === undefined ? {} : { limits: { maxEntries: spec.maxEntries } };
  let fs: Rootfs | undefined;
  let error: unknown;
  try {
    fs = await within(flatten({ layers: built.map((b) => b.layer) }, limits), CASE_MS);
  } catch (err) {
    error = err;
  }
  if (error !== undefined) {
    if (error instanceof Hang) throw error;
    if (!(error instanceof CconvError) || typeof error.code !== 'string') throw new Error(`not a CconvError: ${String((error as Error)?.stack ?? error)}`);
    if (expected.kind === 'tree') throw new Error(`refused (${error.code}: ${error.message}), the model accepts`);
    if (expected.kind === 'refused' && !expected.codes.has(error.code)) {
      throw new Error(`refused with ${error.code} (${error.message}), the model expects ${[...expected.codes].join('|')} (${expected.why})`);
    }
    return error.code;
  }
  if (expected.kind === 'refused') throw new Error(`accepted, the model refuses with ${[...expected.codes].join('|')} (${expected.why})`);
  if (expected.kind === 'tree') await within(checkTree(fs!, expected.tree), CASE_MS);
  return expected.kind === 'tree' ? `tree of ${expected.tree.size - 1}` : 'accepted damaged';
}

test.serial(`flatten agrees with the layer model (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  t.timeout(Math.max(120_000, RUNS * 1000));
  const writes = countWrites();
  const tally = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(imageSpec, async (spec) => {
        const before = writes.calls.length;
        const outcome = (await runCase(spec)).replace(/tree of \d+/, (m) => (m === 'tree of 0' ? 'empty tree' : 'tree'));
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
        if (writes.calls.length > before) throw new Error(`flatten wrote to the file system: ${writes.calls.slice(before).join(', ')}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  } catch (err) {
    // fast-check's message has the seed, the replay path and the shrunk case; the reason is its cause.
    const cause = (err as Error).cause;
    t.log(`reason: ${cause instanceof Error ? cause.message : String(cause)}`);
    t.log(`replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} node test/run-ava.mjs test/unit/rootfs-fuzz.test.ts`);
    throw err;
  } finally {
    writes.restore();
  }
  t.log([...tally].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(', '));
  t.pass();
});
