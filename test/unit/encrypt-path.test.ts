// get_norm_path semantics (examples read from test/vectors/README.md) and the LibOS binding rule.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { getNormPath, pfBoundPath } from '../../src/encrypt/index.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const README = readFileSync(new URL('README.md', VECTORS_URL), 'utf8').replace(/\s+/g, ' ');

test('README examples of get_norm_path', (t) => {
  const becomes = [...README.matchAll(/`([^`]+)` becomes `([^`]+)`/g)].filter((m) => m[1]!.endsWith('.pf'));
  t.true(becomes.length >= 2);
  for (const m of becomes) t.is(getNormPath(m[1]!), m[2]!, m[1]);
  const stays = [...README.matchAll(/`([^`]+\.pf)` stays as it is/g)];
  t.is(stays.length, 1);
  for (const m of stays) t.is(getNormPath(m[1]!), m[1]!);
});

// Cases derived from common/src/path_utils.c (get_norm_path); each was checked once by hand
// against that C function compiled outside the repo.
const CASES: Array<[string, string]> = [
  ['/', '/'],
  ['/..', '/'],
  ['/../a', '/a'],
  ['//a///b//', '/a/b'],
  ['/a/b/../../..', '/'],
  ['.', ''],
  ['', ''],
  ['a/..', ''],
  ['a/../..', '..'],
  ['../../a/../b', '../../b'],
  ['./../x/./y/', '../x/y'],
  ['a/b/c/../../d', 'a/d'],
  ['/data/enc/size_0.bin', '/data/enc/size_0.bin'],
  ['../a/..', '..'],
  ['a/./../../b/..', '..'],
  ['/a/./b/../../../c', '/c'],
];
for (const [input, want] of CASES) {
  test(`getNormPath(${JSON.stringify(input)}) = ${JSON.stringify(want)}`, (t) => {
    t.is(getNormPath(input), want);
  });
}

test('pfBoundPath uses the mount URI (a host path), not fs.root nor the in-enclave path', (t) => {
  const mount = { path: '/app/secret', uri: 'file:/app/secret' };
  t.is(pfBoundPath(mount, '/app/secret/db/key.bin'), '/app/secret/db/key.bin');
  t.is(pfBoundPath({ path: '/secret', uri: 'file:/host/enc/' }, '/secret/./a//b.bin'), '/host/enc/a/b.bin');
  t.is(pfBoundPath({ path: '/secret', uri: 'file:enc' }, '/secret/k'), 'enc/k');
  t.is(pfBoundPath({ path: '/secret', uri: 'file:' }, '/secret/k'), 'k');
  t.is(pfBoundPath({ path: '/one.key', uri: 'file:/keys/one.key' }, '/one.key'), '/keys/one.key');
});

test('pfBoundPath rejects files outside the mount and non-file URIs', (t) => {
  t.throws(() => pfBoundPath({ path: '/app/secret', uri: 'file:/app/secret' }, '/app/secretx/k'), { code: 'E_USAGE' } as never);
  t.throws(() => pfBoundPath({ path: '/app', uri: 'dev:/x' }, '/app/k'), { code: 'E_USAGE' } as never);
});
