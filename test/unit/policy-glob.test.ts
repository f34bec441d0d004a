import test from 'ava';
import { globToRegExp, matchGlob } from '../../src/policy/index.ts';

// [pattern, path, expected]
const table: Array<[string, string, boolean]> = [
  ['/usr/bin/env', '/usr/bin/env', true],
  ['/usr/bin/env', '/usr/bin/envx', false],
  ['/usr/bin', '/usr/bin/env', true], // ancestor rule
  ['/usr/bin/', '/usr/bin/env', true], // trailing slash ignored
  ['/usr/bin', '/usr/binx/env', false],
  ['/', '/anything/at/all', true],
  ['/*', '/a', true],
  ['/*', '/a/b', true], // via ancestor /a
  ['/usr/*/env', '/usr/bin/env', true],
  ['/usr/*/env', '/usr/local/bin/env', false], // * does not cross '/'
  ['/etc/*.conf', '/etc/.hidden.conf', true], // leading dot is not special
  ['/etc/shadow*', '/etc/shadow', true],
  ['/etc/shadow*', '/etc/shadow-', true],
  ['/etc/shadow*', '/etc/gshadow', false],
  ['/a/**', '/a/b/c/d', true],
  ['/a/**', '/a', true],
  ['/a/**', '/ab/c', false],
  ['/**/*.pyc', '/x.pyc', true],
  ['/**/*.pyc', '/usr/lib/python3/x.pyc', true],
  ['/**/*.pyc', '/usr/lib/python3/x.py', false],
  ['/a/**/z', '/a/z', true],
  ['/a/**/z', '/a/b/c/z', true],
  ['/a/**/z', '/a/b/c/zz', false],
  ['/a/b**c', '/a/bxxc', true], // ** inside a segment is a plain *
  ['/a/b**c', '/a/bx/c', false],
  ['/etc/rc?.d', '/etc/rc3.d/S01foo', true],
  ['/etc/rc?.d', '/etc/rcS.d/x', true],
  ['/etc/rc?.d', '/etc/rc.d/x', false],
  ['/etc/rc?.d', '/etc/rc10.d/x', false],
  ['/f[0-9]', '/f7', true],
  ['/f[0-9]', '/fa', false],
  ['/f[!0-9]', '/fa', true],
  ['/f[^0-9]', '/f5', false],
  ['/f[]]', '/f]', true],
  ['/f[a-]', '/f-', true],
  ['/f[!a]', '/f/', false], // a negated class never matches '/'
  ['/a\\*b', '/a*b', true],
  ['/a\\*b', '/axb', false],
  ['/a.b', '/axb', false], // regex metacharacters are literal
  ['/a+(b)', '/a+(b)', true],
  ['/{a,b}', '/{a,b}', true], // no braces
  ['/{a,b}', '/a', false],
  ['/f[\\d]', '/fd', true], // escaped letter in a class is the letter
  ['/f[\\d]', '/f1', false],
];

for (const [pattern, path, expected] of table) {
  test(`glob ${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, (t) => {
    t.is(matchGlob(pattern, path), expected);
  });
}

for (const bad of ['relative/path', '*.pyc', '/a/../b', '/a/./b', '/a//b', '/f[abc', '/f[a/b]', '/trailing\\', '/x\0y', '/f[z-a]']) {
  test(`glob ${JSON.stringify(bad)} is rejected with E_CONFIG`, (t) => {
    t.throws(() => globToRegExp(bad), { code: 'E_CONFIG' });
  });
}
