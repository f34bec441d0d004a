import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { compilePolicy, defaultPolicy, loadPolicy, parsePolicy, policyWithOverrides, type Policy, type RuleType } from '../../src/policy/index.ts';

test('the default policy loads, trusts files and applies GSC exclusions', async (t) => {
  const p = compilePolicy(await defaultPolicy());
  const cases: Array<[string, RuleType | undefined]> = [
    ['/usr/bin/python3', 'trust'],
    ['/etc/passwd', 'trust'],
    ['/.hidden', 'trust'],
    ['/boot/vmlinuz', 'exclude'],
    ['/dev/null', 'exclude'],
    ['/proc/cpuinfo', 'exclude'],
    ['/sys/kernel/x', 'exclude'],
    ['/var/lib/dpkg/status', 'exclude'],
    ['/variable', 'trust'],
    ['/etc/shadow', 'exclude'],
    ['/etc/shadow-', 'exclude'],
    ['/etc/gshadow', 'exclude'],
    ['/etc/gshadow-', 'exclude'],
    ['/etc/mtab', 'exclude'],
    ['/etc/.pwd.lock', 'exclude'],
    ['/etc/rc0.d/K01x', 'exclude'],
    ['/etc/rcS.d/S01x', 'exclude'],
    ['/etc/security/limits.conf', 'exclude'],
    ['/etc/securetty', 'trust'],
    ['/.dockerenv', 'exclude'],
  ];
  for (const [path, expected] of cases) t.is(p.classify(path), expected, path);
});

test('last match wins, and a path no rule matches is unclassified', (t) => {
  const policy = parsePolicy({
    version: 1,
    rules: [
      { type: 'trust', paths: ['/app'] },
      { type: 'exclude', paths: ['/app/tmp'] },
      { type: 'trust', paths: ['/app/tmp/keep'] },
    ],
  });
  const p = compilePolicy(policy);
  t.is(p.classify('/app/a'), 'trust');
  t.is(p.classify('/app/tmp/x'), 'exclude');
  t.is(p.classify('/app/tmp/keep'), 'trust');
  t.is(p.classify('/other'), undefined);
});

test('overrides are appended as trust, allow, encrypt, exclude and win over the file', async (t) => {
  const base = await defaultPolicy();
  const p = policyWithOverrides(base, {
    exclude: ['/app/secret'],
    trust: ['/var/www', '/app/secret'],
    encrypt: ['/app/data'],
    allow: ['/app/data/cache', '/app/log/'],
  });
  t.is(p.rules.length, base.rules.length + 4);
  t.deepEqual(p.rules.slice(-4).map((r) => r.type), ['trust', 'allow', 'encrypt', 'exclude']);
  t.is(base.rules.length, (await defaultPolicy()).rules.length, 'input not modified');
  const c = compilePolicy(p);
  t.is(c.classify('/var/www/index.html'), 'trust');
  t.is(c.classify('/var/lib/x'), 'exclude');
  t.is(c.classify('/app/secret'), 'exclude'); // exclude beats trust
  t.is(c.classify('/app/data/cache/x'), 'encrypt'); // encrypt beats allow
  t.is(c.classify('/app/log/a.log'), 'allow');
  t.throws(() => policyWithOverrides(base, { trust: ['relative'] }), { code: 'E_CONFIG' });
});

const bad: Array<[string, unknown]> = [
  ['not an object', []],
  ['wrong version', { version: 2, rules: [] }],
  ['missing rules', { version: 1 }],
  ['unknown top-level key', { version: 1, rules: [], extra: 1 }],
  ['unknown rule type', { version: 1, rules: [{ type: 'reject', paths: ['/a'] }] }],
  ['empty paths', { version: 1, rules: [{ type: 'trust', paths: [] }] }],
  ['non-string path', { version: 1, rules: [{ type: 'trust', paths: [1] }] }],
  ['relative pattern', { version: 1, rules: [{ type: 'trust', paths: ['a/b'] }] }],
  ['unknown rule key', { version: 1, rules: [{ type: 'trust', paths: ['/a'], path: '/b' }] }],
];
for (const [name, json] of bad) {
  test(`parsePolicy rejects ${name} with E_CONFIG`, (t) => {
    t.throws(() => parsePolicy(json, 'p.json'), { code: 'E_CONFIG' });
  });
}

test('loadPolicy reads a file; missing file is E_IO, bad JSON is E_CONFIG', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-policy-'));
  const good: Policy = { version: 1, rules: [{ type: 'encrypt', paths: ['/data'], comment: 'x' }] };
  await writeFile(join(dir, 'p.json'), JSON.stringify(good));
  await writeFile(join(dir, 'bad.json'), '{ nope');
  t.deepEqual(await loadPolicy(join(dir, 'p.json')), good);
  await t.throwsAsync(loadPolicy(join(dir, 'missing.json')), { code: 'E_IO' });
  await t.throwsAsync(loadPolicy(join(dir, 'bad.json')), { code: 'E_CONFIG' });
});
