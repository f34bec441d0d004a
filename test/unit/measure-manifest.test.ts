import test from 'ava';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { completeManifest, parseSize, readSgxSettings, applySgxDefaults, parseManifestToml } from '../../src/measure/index.ts';
import { caseFile, constants, libsysdb, signCases, caseVector } from '../helpers/measure-vectors.ts';

/**
 * Cases whose template needs nothing from jinja but `{{ gramine.libos }}` and no chroot (case b's
 * template is covered with its image root in measure-trusted.test.ts).
 */
function plainTemplate(text: string, c?: any): boolean {
  if (c !== undefined && caseVector(c).inputs.chroot_tar !== null) return false;
  const rest = text.replaceAll('{{ gramine.libos }}', '');
  return !rest.includes('{{') && !rest.includes('{%');
}

for (const c of signCases()) {
  test(`${c.case}: completing app.manifest gives app.manifest.sgx (fixed point)`, async (t) => {
    const done = await completeManifest(caseFile(c, 'app.manifest').toString('utf8'), { constants: await constants(), libos: libsysdb() });
    t.true(done.bytes.equals(caseFile(c, 'app.manifest.sgx')));
    t.deepEqual(done.trustedFiles, caseVector(c).outputs.trusted_files ?? []);
  });
}

for (const c of signCases().filter((c) => plainTemplate(caseFile(c, 'app.manifest.template').toString('utf8'), c))) {
  test(`${c.case}: completing the rendered template gives app.manifest.sgx`, async (t) => {
    const k = await constants();
    const text = caseFile(c, 'app.manifest.template').toString('utf8').replaceAll('{{ gramine.libos }}', k.libosPath);
    const done = await completeManifest(text, { constants: k, libos: Readable.from([libsysdb()]) });
    t.true(done.bytes.equals(caseFile(c, 'app.manifest.sgx')));
    const sha = createHash('sha256').update(libsysdb()).digest('hex');
    t.is((done.manifest.loader as any).entrypoint.sha256, sha);
    t.is(sha, caseVector(c).inputs.loader_entrypoint_sha256);
  });
}

test('the template cases cover the default paths (a, c, d at least)', (t) => {
  const n = signCases().filter((c) => plainTemplate(caseFile(c, 'app.manifest.template').toString('utf8'), c)).length;
  t.true(n >= 3);
});

test('a missing loader.entrypoint uri defaults to the LibOS; its sha256 is taken from the caller', async (t) => {
  const k = await constants();
  const sha = createHash('sha256').update(libsysdb()).digest('hex');
  const done = await completeManifest('libos.entrypoint = "/x"\n', { constants: k, libos: { sha256: sha } });
  t.deepEqual({ ...(done.manifest.loader as any).entrypoint }, { uri: `file:${k.libosPath}`, sha256: sha });
  // sgx comes first: Manifest.__init__ inserts sgx before loader
  t.deepEqual(Object.keys(done.manifest), ['libos', 'sgx', 'loader']);
  await t.throwsAsync(completeManifest('libos.entrypoint = "/x"\n', { constants: k }), { code: 'E_MANIFEST_TEMPLATE' });
  await t.throwsAsync(completeManifest('loader.entrypoint = "x"\n', { constants: k, libos: libsysdb() }), { code: 'E_MANIFEST_TEMPLATE' });
});

test('parseSize follows Gramine parse_size and Python int(x, 0)', (t) => {
  const ok: Array<[string, bigint]> = [
    ['256M', 256n << 20n], ['4G', 4n << 30n], ['0x40000K', 0x40000n << 10n], ['65536', 65536n], ['1_024K', 1024n << 10n],
    ['0o17', 15n], ['0b101', 5n], [' 12 ', 12n], ['0', 0n], ['000', 0n], ['1024G', 1n << 40n],
  ];
  for (const [s, v] of ok) t.is(parseSize(s), v, s);
  for (const s of ['256m', '1T', '', 'M', '012', '1__0', '_1', '0x', '-1M', '1.5G', '0xG']) {
    t.throws(() => parseSize(s), { code: 'E_ENCLAVE_LAYOUT' } as any, s);
  }
  t.throws(() => parseSize(256n), { code: 'E_ENCLAVE_LAYOUT' } as any);
});

test('sgx settings are validated', async (t) => {
  const k = await constants();
  const settings = (src: string) => readSgxSettings(applySgxDefaults(parseManifestToml(src), k));
  t.deepEqual(settings('sgx.enclave_size = "0x40000K"\nsgx.isvprodid = 65535\n'), {
    enclaveSize: 256 * 2 ** 20, maxThreads: k.defaults.maxThreads, edmm: false, isvProdId: 65535, isvSvn: 0,
  });
  t.is(settings('sgx.edmm_enable = true\n').enclaveSize, Number(parseSize(k.defaults.enclaveSizeWithEdmm)));
  const bad: Array<[string, string]> = [
    ['sgx.enclave_size = "384M"\n', 'E_ENCLAVE_LAYOUT'],
    ['sgx.enclave_size = "256 MB"\n', 'E_ENCLAVE_LAYOUT'],
    ['sgx.enclave_size = 268435456\n', 'E_ENCLAVE_LAYOUT'],
    ['sgx.max_threads = 0\n', 'E_ENCLAVE_LAYOUT'],
    ['sgx.max_threads = "4"\n', 'E_ENCLAVE_LAYOUT'],
    ['sgx.isvprodid = 65536\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx.isvsvn = -1\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx.debug = 1\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx.edmm_enable = "yes"\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx = 1\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx.trusted_files = "file:/x"\n', 'E_MANIFEST_TEMPLATE'],
    ['sgx.trusted_files = [1]\n', 'E_MANIFEST_TEMPLATE'],
  ];
  for (const [src, code] of bad) t.throws(() => settings(src), { code } as any, src);
});

test('defaults keep existing keys in place and append missing ones in the signer order', async (t) => {
  const k = await constants();
  const sgx = applySgxDefaults(parseManifestToml('sgx.debug = true\nsgx.cpu_features.pkru = "required"\nsgx.isvsvn = 3\n'), k);
  t.deepEqual(Object.keys(sgx), [
    'debug', 'cpu_features', 'isvsvn', 'trusted_files', 'max_threads', 'isvprodid', 'remote_attestation',
    'enable_stats', 'edmm_enable', 'enclave_size', 'use_exinfo',
  ]);
  t.deepEqual(Object.keys(sgx.cpu_features as object), ['pkru', 'avx', 'avx512', 'amx', 'mpx']);
  t.is((sgx.cpu_features as any).pkru, 'required');
});
