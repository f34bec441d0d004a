/** renderManifest: merge order, refused fragment keys, argv file, settings, determinism. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ContainerConfig, ImageConfig } from '../../src/image/types.ts';
import { defaultPolicy, policyWithOverrides, selectFiles } from '../../src/policy/index.ts';
import {
  DEFAULT_GRAMINE_SETTINGS,
  loadGramineConfig,
  mergeSettings,
  parseGramineConfig,
  parseTemplate,
  renderManifest,
  serializeArgv,
  type ManifestTable,
  type RenderInput,
} from '../../src/runtimes/index.ts';
import { exe, fakeRootfs, file } from '../helpers/fake-rootfs.ts';
import { VECTORS_URL as VECTORS } from '../helpers/enclave-vectors.ts';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const root = fakeRootfs([
  exe('/usr/bin/app', 'app-binary'),
  file('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
  file('/etc/shadow', 'x'),
  file('/var/lib/state', 's'),
  exe('/var/app/bin', 'b'),
]);
const config = (c: ContainerConfig = { Entrypoint: ['app'], Cmd: ['--serve', 'a b', ''] }): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  config: c,
  rootfs: { type: 'layers', diff_ids: [] },
});
const get = (m: ManifestTable, key: string): unknown =>
  key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], m);
const json = (v: unknown): string => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));

async function render(extra: Partial<RenderInput> = {}) {
  const selection = selectFiles(root, await defaultPolicy());
  return renderManifest({ config: config(), rootfs: root, selection, ...extra });
}

test('the argv file holds every argument followed by a NUL, as gramine-argv-serializer writes', async (t) => {
  const r = await render();
  t.deepEqual(r.argvFile?.content, Buffer.from('app\0--serve\0a b\0\0', 'binary'));
  t.is(r.argvFile?.path, '/cconv/argv');
  t.is(r.argvFile?.sha256, sha(Buffer.from('app\0--serve\0a b\0\0', 'binary')));
  t.is(get(r.manifest, 'loader.argv_src_file'), 'file:/cconv/argv');
  t.false('insecure__use_cmdline_argv' in (r.manifest['loader'] as object));
  const trusted = get(r.manifest, 'sgx.trusted_files') as unknown[];
  t.deepEqual(trusted[1], { uri: 'file:/cconv/argv', sha256: r.argvFile!.sha256 });
  // The argv of vector b's manifest, serialised: each UTF-8 argument, then one NUL.
  const b = parseTemplate(await readFile(new URL('sgx-sign/b-debug-chroot-trusted/app.manifest', VECTORS), 'utf8'));
  const argv = get(b, 'loader.argv') as string[];
  t.deepEqual(serializeArgv(argv), Buffer.concat(argv.map((a) => Buffer.from(`${a}\0`))));
  t.is(serializeArgv(['é']).length, 3);
});

test('insecureArgs uses the host command line and writes no argv file', async (t) => {
  const r = await render({ settings: { insecureArgs: true } });
  t.is(r.argvFile, undefined);
  t.is(get(r.manifest, 'loader.insecure__use_cmdline_argv'), true);
  t.is(get(r.manifest, 'loader.argv_src_file'), undefined);
  t.false(json(get(r.manifest, 'sgx.trusted_files')).includes('/cconv/argv'));
});

test('defaults and settings map to their manifest keys', async (t) => {
  const d = (await render()).manifest;
  t.is(get(d, 'sgx.enclave_size'), '1G');
  t.is(get(d, 'sgx.max_threads'), 32n);
  t.is(get(d, 'sgx.debug'), false);
  t.is(get(d, 'sgx.edmm_enable'), false);
  t.is(get(d, 'sgx.remote_attestation'), 'dcap');
  t.is(get(d, 'sgx.cpu_features'), undefined);
  t.is(get(d, 'loader.log_level'), 'error');
  t.is(get(d, 'loader.entrypoint.uri'), 'file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so');
  t.deepEqual(get(d, 'fs.root'), { type: 'chroot', uri: 'file:/' });
  const s = (await render({
    settings: {
      enclaveSize: '4G', maxThreads: 8, edmm: true, isvProdId: 7, isvSvn: 3, debug: true, remoteAttestation: 'none',
      cpuFeatures: { avx512: 'disabled', avx: 'required' }, logLevel: 'debug', pkglibdir: '/opt/gramine/lib',
    },
  })).manifest;
  t.is(get(s, 'sgx.enclave_size'), '4G');
  t.is(get(s, 'sgx.max_threads'), 8n);
  t.is(get(s, 'sgx.edmm_enable'), true);
  t.is(get(s, 'sgx.isvprodid'), 7n);
  t.is(get(s, 'sgx.isvsvn'), 3n);
  t.is(get(s, 'sgx.debug'), true);
  t.is(get(s, 'sgx.remote_attestation'), 'none');
  t.deepEqual(Object.entries(get(s, 'sgx.cpu_features') as object), [['avx', 'required'], ['avx512', 'disabled']]);
  t.is(get(s, 'loader.log_level'), 'debug');
  t.is(get(s, 'loader.entrypoint.uri'), 'file:/opt/gramine/lib/libsysdb.so');
  t.true((get(s, 'loader.env.LD_LIBRARY_PATH') as string).startsWith('/opt/gramine/lib/runtime/glibc:'));
  t.is((get(s, 'sgx.trusted_files') as unknown[])[0], 'file:/opt/gramine/lib/runtime/glibc/');
});

test('pre-hashed runtime files replace the runtime directory entry', async (t) => {
  const runtime = [{ uri: 'file:/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/libc.so.6', sha256: sha('libc') }];
  const r = await render({ runtimeTrustedFiles: runtime });
  t.deepEqual((get(r.manifest, 'sgx.trusted_files') as unknown[])[0], runtime[0]);
});

test('policy selection feeds trusted, allowed files and encrypted mounts', async (t) => {
  const policy = policyWithOverrides(await defaultPolicy(), { allow: ['/run/app.sock'], encrypt: ['/etc/passwd'] });
  const r = await render({ selection: selectFiles(root, policy), settings: { encryptedKeyName: 'app_key' } });
  t.deepEqual((get(r.manifest, 'sgx.trusted_files') as unknown[]).slice(2), [{ uri: 'file:/usr/bin/app', sha256: sha('app-binary') }]);
  t.deepEqual(get(r.manifest, 'sgx.allowed_files'), ['file:/run/app.sock']);
  t.deepEqual((get(r.manifest, 'fs.mounts') as unknown[]).at(-1), { type: 'encrypted', path: '/etc/passwd', uri: 'file:/etc/passwd', key_name: 'app_key' });
  t.is(get((await render()).manifest, 'sgx.allowed_files'), undefined);
});

test('an entrypoint the policy excludes is E_CONFIG with a hint', async (t) => {
  const selection = selectFiles(root, await defaultPolicy());
  const err = await t.throwsAsync(renderManifest({ config: config({ Cmd: ['/var/app/bin'] }), rootfs: root, selection }), { code: 'E_CONFIG' });
  t.is((err as { hint?: string }).hint, 'add --trust /var/app/bin');
  const trusted = selectFiles(root, policyWithOverrides(await defaultPolicy(), { trust: ['/var/app/bin'] }));
  t.is((await renderManifest({ config: config({ Cmd: ['/var/app/bin'] }), rootfs: root, selection: trusted })).entrypoint, '/var/app/bin');
});

test('merge order: fragment over template over image config; defaults yield to the fragment', async (t) => {
  const fragment: ManifestTable = {
    loader: { env: { PATH: '/frag/bin', EXTRA: 'x' } },
    sys: { enable_extra_runtime_domain_names_conf: false, stack: { size: '2M' } },
    sgx: { max_threads: 64n, use_exinfo: true, trusted_files: ['file:/extra/', { uri: 'file:/usr/bin/app', sha256: sha('app-binary') }] },
    fs: { mounts: [{ type: 'tmpfs', path: '/tmp/' }, { type: 'tmpfs', path: '/run' }] },
  };
  const m = (await render({ config: config({ Cmd: ['app'], Env: ['PATH=/usr/bin', 'KEEP=1'] }), fragment })).manifest;
  t.is(get(m, 'loader.env.PATH'), '/frag/bin'); // fragment > image
  t.is(get(m, 'loader.env.KEEP'), '1');
  t.is(get(m, 'loader.env.EXTRA'), 'x');
  t.is(get(m, 'sys.enable_extra_runtime_domain_names_conf'), false); // fragment > template
  t.is(get(m, 'sys.stack.size'), '2M');
  t.is(get(m, 'sgx.max_threads'), 64n); // fragment > default setting
  t.is(get(m, 'sgx.use_exinfo'), true);
  const trusted = get(m, 'sgx.trusted_files') as unknown[];
  t.is(trusted.at(-1), 'file:/extra/');
  t.is(trusted.filter((e) => json(e).includes('file:/usr/bin/app')).length, 1); // deduplicated
  const mounts = get(m, 'fs.mounts') as Array<Record<string, string>>;
  t.deepEqual(mounts.map((x) => x['path']), ['/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc', '/tmp/', '/run']);
});

test('LD_LIBRARY_PATH: runtime glibc, the image\'s own, its ld.so.conf directories, then the standard ones', async (t) => {
  const withConf = fakeRootfs([
    exe('/usr/bin/app', 'app-binary'),
    file('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    file('/etc/ld.so.conf', 'include /etc/ld.so.conf.d/*.conf\n'),
    file('/etc/ld.so.conf.d/app.conf', '/opt/app/lib\n/usr/lib/x86_64-linux-gnu\n/opt/missing\n'),
    file('/opt/app/lib/libapp.so.1', 'lib'),
    file('/opt/env/lib/libenv.so.1', 'lib'),
  ]);
  const r = await renderManifest({ config: config({ Entrypoint: ['app'], Env: ['PATH=/usr/bin', 'LD_LIBRARY_PATH=/opt/env/lib'] }), rootfs: withConf });
  t.is(
    get(r.manifest, 'loader.env.LD_LIBRARY_PATH'),
    '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc:/opt/env/lib:/opt/app/lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib',
  );
  // Without an ld.so.conf the value is what it always was (the same MRENCLAVE for such images).
  t.is(get((await render()).manifest, 'loader.env.LD_LIBRARY_PATH'), '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib');
});

test('the fragment cannot drop the runtime glibc from LD_LIBRARY_PATH', async (t) => {
  const m = (await render({ fragment: { loader: { env: { LD_LIBRARY_PATH: '/mine' } } } })).manifest;
  t.is(get(m, 'loader.env.LD_LIBRARY_PATH'), '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc:/mine');
});

const refused: Array<[string, ManifestTable, RenderInput['settings'], string]> = [
  ['fs.root', { fs: { root: { uri: 'file:/other' } } }, {}, 'fs.root'],
  ['loader.entrypoint', { loader: { entrypoint: { uri: 'file:/evil.so' } } }, {}, 'loader.entrypoint'],
  ['loader.entrypoint.sha256', { loader: { entrypoint: { uri: 'file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so', sha256: '00' } } }, {}, 'loader.entrypoint'],
  ['libos.entrypoint', { libos: { entrypoint: '/bin/sh' } }, {}, 'libos.entrypoint'],
  ['loader.argv', { loader: { argv: ['x'] } }, {}, 'loader.argv'],
  ['loader.insecure__use_cmdline_argv', { loader: { insecure__use_cmdline_argv: true } }, {}, 'loader.insecure__use_cmdline_argv'],
  ['sgx.debug without the debug flag', { sgx: { debug: true } }, {}, 'sgx.debug'],
  ['sgx.enable_stats without debug', { sgx: { enable_stats: true } }, {}, 'sgx.enable_stats'],
  ['sgx.profile.enable without debug', { sgx: { profile: { enable: 'main' } } }, {}, 'sgx.profile.enable'],
  ['allow_all_but_log without debug', { sgx: { file_check_policy: 'allow_all_but_log' } }, {}, 'sgx.file_check_policy'],
  ['sgx.debug = false against --debug', { sgx: { debug: false } }, { debug: true }, 'sgx.debug'],
  ['an explicitly set enclave size', { sgx: { enclave_size: '8G' } }, { enclaveSize: '2G' }, 'sgx.enclave_size'],
  ['an explicitly set cpu feature', { sgx: { cpu_features: { avx: 'disabled' } } }, { cpuFeatures: { avx: 'required' } }, 'sgx.cpu_features.avx'],
  ['a mount at /', { fs: { mounts: [{ path: '/', uri: 'file:/x' }] } }, {}, 'fs.mounts'],
  ['a mount over the runtime', { fs: { mounts: [{ path: '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/', uri: 'file:/x' }] } }, {}, 'fs.mounts'],
  ['a conflicting trusted hash', { sgx: { trusted_files: [{ uri: 'file:/usr/bin/app', sha256: sha('other') }] } }, {}, 'sgx.trusted_files'],
];
for (const [name, fragment, settings, key] of refused) {
  test(`fragment refused: ${name}`, async (t) => {
    const err = await t.throwsAsync(render({ fragment, settings }), { code: 'E_MANIFEST_TEMPLATE' });
    t.true(err!.message.includes(`key ${key}`), err!.message);
  });
}

test('fragment accepted: protected keys restated, debug keys with --debug, an explicit setting repeated', async (t) => {
  const m = (await render({
    settings: { debug: true, maxThreads: 16 },
    fragment: {
      libos: { entrypoint: '/usr/bin/app' },
      fs: { root: { type: 'chroot', uri: 'file:/' } },
      sgx: { debug: true, enable_stats: true, max_threads: 16n },
    },
  })).manifest;
  t.is(get(m, 'sgx.debug'), true);
  t.is(get(m, 'sgx.enable_stats'), true);
  t.is(get(m, 'sgx.max_threads'), 16n);
});

test('rendering is deterministic: same input, same object and key order', async (t) => {
  const fragment = { sgx: { use_exinfo: true } };
  const a = await render({ fragment });
  const b = await render({ fragment: structuredClone(fragment) });
  t.deepEqual(a, b);
  t.is(json(a.manifest), json(b.manifest));
  t.deepEqual(Object.keys(a.manifest), ['loader', 'libos', 'fs', 'sys', 'sgx']);
});

test('a template with an unknown placeholder, or invalid TOML, is E_MANIFEST_TEMPLATE', async (t) => {
  const err = await t.throwsAsync(render({ template: { loader: { entrypoint: { uri: 'file:@nope@/x' } } } }), { code: 'E_MANIFEST_TEMPLATE' });
  t.true(err!.message.includes('@nope@'));
  t.throws(() => parseTemplate('a = ['), { code: 'E_MANIFEST_TEMPLATE' });
});

test('an image that already holds the runtime directory is refused (E_CONFIG)', async (t) => {
  const clash = fakeRootfs([exe('/usr/bin/app'), file('/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so', 'x')]);
  await t.throwsAsync(renderManifest({ config: config(), rootfs: clash }), { code: 'E_CONFIG' });
});

test('invalid settings are E_CONFIG', async (t) => {
  for (const settings of [{ enclaveSize: '1T' }, { maxThreads: 0 }, { isvSvn: 70000 }, { logLevel: 'loud' }, { pkglibdir: 'rel' }, { cpuFeatures: { mpx: 'unspecified' } }, { bogus: 1 }]) {
    await t.throwsAsync(render({ settings: settings as never }), { code: 'E_CONFIG' }, JSON.stringify(settings));
  }
});

test('cconv.json: gramine settings are read, validated, and layered', async (t) => {
  t.deepEqual(parseGramineConfig({ version: 1, gramine: { enclaveSize: '2G', debug: true }, other: {} }), { enclaveSize: '2G', debug: true });
  t.deepEqual(parseGramineConfig({ version: 1 }), {});
  t.throws(() => parseGramineConfig({ version: 2 }), { code: 'E_CONFIG' });
  t.throws(() => parseGramineConfig({ version: 1, gramine: { enclave_size: '2G' } }), { code: 'E_CONFIG' });
  const dir = await mkdtemp(join(tmpdir(), 'cconv-config-'));
  await writeFile(join(dir, 'cconv.json'), JSON.stringify({ version: 1, gramine: { maxThreads: 8, isvSvn: 2 } }));
  const fromFile = await loadGramineConfig(join(dir, 'cconv.json'));
  t.deepEqual(mergeSettings(fromFile, { maxThreads: 4 }, undefined), { maxThreads: 4, isvSvn: 2 });
  await t.throwsAsync(loadGramineConfig(join(dir, 'missing.json')), { code: 'E_IO' });
  t.is(Object.keys(DEFAULT_GRAMINE_SETTINGS).length, 14);
});
