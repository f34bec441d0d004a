import test from 'ava';
import { dumpManifestToml, parseManifestToml, pyFloatRepr, type TomlTable } from '../../src/measure/index.ts';
import { caseFile, signCases } from '../helpers/measure-vectors.ts';

for (const c of signCases()) {
  test(`re-emitting ${c.case}/app.manifest gives app.manifest.sgx byte for byte`, (t) => {
    const doc = parseManifestToml(caseFile(c, 'app.manifest').toString('utf8'));
    t.true(Buffer.from(dumpManifestToml(doc), 'utf8').equals(caseFile(c, 'app.manifest.sgx')));
  });
  test(`${c.case}/app.manifest.sgx is a fixed point of parse + dump`, (t) => {
    const bytes = caseFile(c, 'app.manifest.sgx');
    t.is(dumpManifestToml(parseManifestToml(bytes.toString('utf8'))), bytes.toString('utf8'));
  });
}

test('integers stay bigint and floats stay floats', (t) => {
  const doc = parseManifestToml('a = 65535\nb = 1.0\nc = 0x10\nd = 9223372036854775807\ne = 1e16\nf = -0.0\ng = inf\n');
  t.is(doc.a, 65535n);
  t.is(doc.d, 9223372036854775807n);
  t.is(dumpManifestToml(doc), 'a = 65535\nb = 1.0\nc = 16\nd = 9223372036854775807\ne = 1e+16\nf = -0.0\ng = inf\n');
});

test('floats are written like Python repr()', (t) => {
  const cases: Array<[number, string]> = [
    [0.1, '0.1'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1.5e-7, '1.5e-07'], [123456789.125, '123456789.125'],
    [1e15, '1000000000000000.0'], [1.25e16, '1.25e+16'], [1e100, '1e+100'], [-2.5, '-2.5'], [NaN, 'nan'], [-Infinity, '-inf'],
  ];
  for (const [x, s] of cases) t.is(pyFloatRepr(x), s, String(x));
});

test('tables (inline ones too), dotted sub-tables, arrays and arrays of tables follow tomli_w', (t) => {
  const src = [
    'x.y.z = 1', 'top = "v"', '[t]', 'b = true', 'arr = [1, [2, 3]]', 'it = { k = "v", n = { m = 1 } }',
    'short = [{ a = 1 }, { b = "x" }]',
    `long = [{ uri = "file:/usr/lib/${'x'.repeat(40)}", sha256 = "${'0'.repeat(64)}" }]`,
    'empty = {}', '[t.sub]', 'q = 1',
  ].join('\n');
  const expected = [
    'top = "v"', '', '[x.y]', 'z = 1', '', '[t]', 'b = true', 'arr = [', '    1,', '    [', '        2,', '        3,', '    ],', ']',
    'short = [', '    { a = 1 },', '    { b = "x" },', ']', '',
    '[t.it]', 'k = "v"', '', '[t.it.n]', 'm = 1', '', '[[t.long]]', `uri = "file:/usr/lib/${'x'.repeat(40)}"`, `sha256 = "${'0'.repeat(64)}"`, '', '[t.empty]', '', '[t.sub]', 'q = 1', '',
  ].join('\n');
  t.is(dumpManifestToml(parseManifestToml(src)), expected);
});

test('an inline table of exactly 100 characters stays inline, 101 becomes [[...]]', (t) => {
  const mk = (n: number): TomlTable => ({ a: [{ k: 'x'.repeat(n) }] });
  // '    { k = "' + n + '" },' is 15 + n characters
  t.is(dumpManifestToml(mk(85)), `a = [\n    { k = "${'x'.repeat(85)}" },\n]\n`);
  t.is(dumpManifestToml(mk(86)), `[[a]]\nk = "${'x'.repeat(86)}"\n`);
  // the limit counts code points, not UTF-16 units or bytes
  t.true(dumpManifestToml({ a: [{ k: '😀'.repeat(85) }] }).startsWith('a = [\n'));
});

test('keys are quoted and strings escaped as tomli_w does', (t) => {
  const doc: TomlTable = { 'a.b': 'q"\\\b\t\n\f\r\u0001\u007f\u00e9', '': 1n, 'ok-key_1': 'x' };
  t.is(dumpManifestToml(doc), '"a.b" = "q\\"\\\\\\b\t\\n\\f\\r\\u0001\\u007fé"\n"" = 1\nok-key_1 = "x"\n');
});

test('invalid TOML is E_MANIFEST_TEMPLATE; numeric keys and dates are E_UNSUPPORTED', (t) => {
  t.throws(() => parseManifestToml('a = '), { code: 'E_MANIFEST_TEMPLATE' } as any);
  t.throws(() => parseManifestToml('[env]\nB = 1\n"10" = 2\n'), { code: 'E_UNSUPPORTED' } as any);
  t.throws(() => parseManifestToml('d = 1979-05-27\n'), { code: 'E_UNSUPPORTED' } as any);
});
