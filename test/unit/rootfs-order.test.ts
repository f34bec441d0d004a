import test from 'ava';
import { comparePaths, compareNames } from '../../src/rootfs/index.ts';

/** The definition: component by component, each compared as UTF-8 bytes; a prefix first. */
function reference(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]!, 'utf8'), Buffer.from(pb[i]!, 'utf8'));
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

// Characters around the interesting boundaries: below and above '/', the BMP's top, surrogate pairs.
const ALPHABET = ['/', '-', '.', ' ', '0', 'a', 'b', '\u00e9', '\uffff', '\ue000', '\ud7ff', '\u{1f600}', '\u{10000}'];

function randomPath(rand: () => number): string {
  let s = '';
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

test('comparePaths orders as the component-wise UTF-8 definition, on 20,000 random pairs', (t) => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 20000; i++) {
    const a = randomPath(rand);
    const b = randomPath(rand);
    const want = Math.sign(reference(a, b));
    if (Math.sign(comparePaths(a, b)) !== want) t.fail(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: want ${want}`);
  }
  t.pass();
});

test('comparePaths puts a directory right before its children, and names compare by code point', (t) => {
  t.deepEqual(['a-c', 'a/b', 'a', 'ab'].sort(comparePaths), ['a', 'a/b', 'a-c', 'ab']);
  t.deepEqual(['/usr/lib', '/usr', '/usr-local', '/usr/bin/x'].sort(comparePaths), ['/usr', '/usr/bin/x', '/usr/lib', '/usr-local']);
  // U+1F600 is above U+FFFF in UTF-8 although its UTF-16 units are below it.
  t.true(compareNames('\u{1f600}', '\uffff') > 0);
  t.true(comparePaths('x/\u{1f600}', 'x/\uffff') > 0);
});
