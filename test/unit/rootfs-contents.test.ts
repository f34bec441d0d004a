import test from 'ava';
import type { ProgressEvent } from '../../src/progress.ts';
import { flatten } from '../../src/rootfs/index.ts';
import type { RootfsEntry } from '../../src/rootfs/index.ts';
import { fakeImage, fakeLayer, makeTar, sha256, type TarSpec } from '../helpers/tar.ts';

const big = Buffer.alloc(200_000, 7);
const layer0: TarSpec[] = [
  { name: 'etc/passwd', content: 'root:x:0:0\n' },
  { name: 'etc/hosts', content: '127.0.0.1 localhost\n' },
  { name: 'usr/lib/big.so', content: big },
  { name: 'usr/lib/big-link.so', type: 'link', linkname: 'usr/lib/big.so' },
  { name: 'old', content: 'gone soon' },
];
const layer1: TarSpec[] = [{ name: 'etc/passwd', content: 'root:x:0:0\napp:x:1000:1000\n' }, { name: '.wh.old' }, { name: 'etc/shadow-link', type: 'symlink', linkname: '/etc/passwd' }];
const layer2: TarSpec[] = [{ name: 'app/run.sh', content: '#!/bin/sh\n' }];

async function image() {
  return fakeImage([await makeTar(layer0), await makeTar(layer1), await makeTar(layer2)]);
}

test('entries are depth-first with children sorted bytewise (UTF-8 order)', async (t) => {
  const names = ['b', 'B', 'a.txt', 'a', 'a-b', 'é', '\u{1F600}', '\uFF21', 'z'];
  const fs = await flatten(fakeImage([await makeTar([...names.map((n) => ({ name: `d/${n}`, content: n })), { name: 'a/x', content: '' }, { name: 'c', content: '' }])]));
  const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  t.deepEqual(
    [...fs.entries()].map((e) => e.path),
    ['a', 'a/x', 'c', 'd', ...sorted.map((n) => `d/${n}`)],
  );
  t.is(sorted.at(-1), '\u{1F600}'); // above U+FF21 in UTF-8, below it in UTF-16
});

test('totals count files, dirs, symlinks, hardlinks and distinct bytes', async (t) => {
  const fs = await flatten(await image());
  t.deepEqual(fs.totals, {
    files: 4,
    dirs: 4,
    symlinks: 1,
    hardlinks: 1,
    other: 0,
    bytes: 20 + big.length + 27 + 10,
  });
});

test('readContents delivers exactly the selected files, with the right bytes, in layer order, opening only needed layers', async (t) => {
  const img = await image();
  const fs = await flatten(img);
  t.deepEqual(img.layers.map((l) => l.opens), [1, 1, 1]);
  const got: Array<[string, string]> = [];
  await fs.readContents(
    (e) => e.path.startsWith('etc/') || e.path.startsWith('usr/lib/big-link'),
    async (e, s) => {
      const parts: Buffer[] = [];
      for await (const c of s) parts.push(c as Buffer);
      const data = Buffer.concat(parts);
      t.is(e.sha256, sha256(data) as string | undefined);
      got.push([e.path, e.path.includes('big') ? `${data.length}` : data.toString()]);
    },
  );
  t.deepEqual(got, [
    ['etc/hosts', '127.0.0.1 localhost\n'],
    ['usr/lib/big-link.so', `${big.length}`],
    ['etc/passwd', 'root:x:0:0\napp:x:1000:1000\n'],
  ]);
  t.deepEqual(img.layers.map((l) => l.opens), [2, 2, 1]);
});

test('a member selected through several hardlinks is delivered to each entry', async (t) => {
  const fs = await flatten(await image());
  const got: string[] = [];
  await fs.readContents(
    (e) => e.path.includes('big'),
    async (e, s) => {
      let n = 0;
      for await (const c of s) n += (c as Buffer).length;
      got.push(`${e.path}:${n}:${e.hardlinkTo ?? ''}`);
    },
  );
  t.deepEqual(got.sort(), [`usr/lib/big-link.so:${big.length}:usr/lib/big.so`, `usr/lib/big.so:${big.length}:`]);
});

test('readFile follows symlinks, returns undefined for missing or non-files, and enforces maxBytes', async (t) => {
  const fs = await flatten(await image());
  t.is((await fs.readFile('/etc/shadow-link'))!.toString(), 'root:x:0:0\napp:x:1000:1000\n');
  t.is(await fs.readFile('etc/nope'), undefined);
  t.is(await fs.readFile('etc'), undefined);
  await t.throwsAsync(fs.readFile('usr/lib/big.so', 1000), { code: 'E_UNSUPPORTED' });
});

test('a layer whose stream errors mid-way: the error propagates and no visitor runs afterwards', async (t) => {
  const files: TarSpec[] = Array.from({ length: 20 }, (_, i) => ({ name: `f${String(i).padStart(2, '0')}`, content: Buffer.alloc(1000, i) }));
  const tar = await makeTar(files);
  const { CconvError } = await import('../../src/errors.ts');
  const layer = fakeLayer(0, tar, { failAt: 10 * 1536 + 700, failFromOpen: 2, error: new CconvError('E_LAYER_CORRUPT', 'gzip: unexpected end of file') });
  const fs = await flatten({ layers: [layer] });
  const seen: string[] = [];
  let failedStreams = 0;
  await t.throwsAsync(
    fs.readContents(
      () => true,
      async (e, s) => {
        seen.push(e.path);
        try {
          for await (const _ of s) void _;
        } catch {
          failedStreams++;
          throw new Error('visitor saw the error');
        }
      },
    ),
    { code: 'E_LAYER_CORRUPT', message: 'gzip: unexpected end of file' },
  );
  t.true(layer.lastStream!.destroyed);
  t.deepEqual(seen, files.slice(0, 11).map((f) => f.name));
  t.is(failedStreams, 1);
});

test('flatten: a layer stream error propagates unchanged (E_LAYER_CORRUPT from the source)', async (t) => {
  const { CconvError } = await import('../../src/errors.ts');
  const tar = await makeTar([{ name: 'a', content: Buffer.alloc(5000) }, { name: 'b', content: 'b' }]);
  const layer = fakeLayer(0, tar, { failAt: 3000, error: new CconvError('E_DIGEST_MISMATCH', 'diff_id mismatch') });
  await t.throwsAsync(flatten({ layers: [layer] }), { code: 'E_DIGEST_MISMATCH', message: 'diff_id mismatch' });
  const raw = fakeLayer(0, tar, { failAt: 3000, error: new Error('socket hang up') });
  await t.throwsAsync(flatten({ layers: [raw] }), { code: 'E_LAYER_CORRUPT', message: /layer 0 .*socket hang up/ });
});

test('flatten: a path error mid-layer destroys the layer stream', async (t) => {
  const tar = await makeTar([{ name: 'a', content: 'a' }, { name: 'a/b', content: 'b' }, { name: 'c', content: Buffer.alloc(100_000) }]);
  const layer = fakeLayer(0, tar);
  await t.throwsAsync(flatten({ layers: [layer] }), { code: 'E_UNSAFE_PATH' });
  t.true(layer.lastStream!.destroyed);
});

test('readContents checks content against the indexed sha256', async (t) => {
  const a = await makeTar([{ name: 'f', content: 'original' }]);
  const b = await makeTar([{ name: 'f', content: 'tampered' }]);
  const layer = fakeLayer(0, a);
  const fs = await flatten({ layers: [layer] });
  layer.openUncompressed = fakeLayer(0, b).openUncompressed;
  await t.throwsAsync(fs.readContents(() => true, async (_e, s) => {
    for await (const _ of s) void _;
  }), { code: 'E_DIGEST_MISMATCH', message: /"f"/ });
});

test('hash: false skips hashing; progress reports the flatten task with byte advances', async (t) => {
  const events: ProgressEvent[] = [];
  const img = await image();
  const fs = await flatten(img, { hash: false, report: (e) => events.push(e) });
  t.is(fs.get('etc/passwd')!.sha256, undefined);
  t.like(events[0], { type: 'start', id: 'flatten' });
  t.like(events.at(-1), { type: 'done', id: 'flatten' });
  const total = events.reduce((n, e) => n + (e.type === 'advance' ? e.amount : 0), 0);
  t.is(total, img.layers.reduce((n, l) => n + l.descriptor.size, 0));
});

test('an aborted signal stops flatten with E_ABORTED', async (t) => {
  const ac = new AbortController();
  ac.abort();
  const img = await image();
  await t.throwsAsync(flatten(img, { signal: ac.signal }), { code: 'E_ABORTED' });
  t.deepEqual(img.layers.map((l) => l.opens), [0, 0, 0]);
});

test('entries are frozen snapshots', async (t) => {
  const fs = await flatten(await image());
  const e = fs.get('etc/passwd') as RootfsEntry & { size: number };
  t.throws(() => {
    e.size = 1;
  });
  t.like(fs.get('etc/passwd'), { size: 27, layer: 1, type: 'file' });
});

test("a visitor's own error propagates unchanged and stops the pass", async (t) => {
  const img = await image();
  const fs = await flatten(img);
  const mine = new Error('visitor says no');
  const seen: string[] = [];
  const err = await t.throwsAsync(
    fs.readContents(
      () => true,
      async (e) => {
        seen.push(e.path);
        throw mine;
      },
    ),
  );
  t.is(err, mine);
  t.deepEqual(seen, ['etc/hosts']);
  t.true(img.layers[0]!.lastStream!.destroyed);
});
