/**
 * The rendered manifest goes through the measure module: TOML writer round trip, then the signer's
 * completion (defaults, loader.entrypoint hash, trusted files) over the root of the output image
 * (the app's files, plus what the assembler adds: the argv file and the runtime's glibc).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { completeManifest, dumpManifestToml, loadGramineConstants, parseManifestToml, type TomlTable } from '../../src/measure/index.ts';
import { defaultPolicy, selectFiles } from '../../src/policy/index.ts';
import { renderManifest } from '../../src/runtimes/index.ts';
import { exe, fakeRootfs, file, symlink, type FakeEntry } from '../helpers/fake-rootfs.ts';
import { VECTORS_URL as VECTORS } from '../helpers/enclave-vectors.ts';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

const appFiles: FakeEntry[] = [
  symlink('/bin', 'usr/bin'),
  exe('/usr/bin/python3.11', 'python'),
  symlink('/usr/bin/python3', 'python3.11'),
  file('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'),
  file('/etc/shadow', 'secret'),
  file('/app/main.py', 'print("hi")\n'),
];

async function renderForImage() {
  const app = fakeRootfs(appFiles);
  return renderManifest({
    config: {
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['python3'], Cmd: ['/app/main.py'], Env: ['PYTHONUNBUFFERED=1'], WorkingDir: '/app', User: 'app' },
      rootfs: { type: 'layers', diff_ids: [] },
    },
    rootfs: app,
    selection: selectFiles(app, await defaultPolicy()),
    settings: { maxThreads: 16, isvProdId: 3 },
    fragment: { sys: { stack: { size: '1M' } } },
  });
}

test('the rendered manifest survives the TOML writer unchanged', async (t) => {
  const { manifest } = await renderForImage();
  const text = dumpManifestToml(manifest as TomlTable);
  t.deepEqual(parseManifestToml(text), manifest as TomlTable);
  t.is(dumpManifestToml(parseManifestToml(text)), text);
});

test('the rendered manifest completes through the signer over the assembled image root', async (t) => {
  const r = await renderForImage();
  const constants = await loadGramineConstants('1.9');
  const libos = await readFile(new URL('inputs/libsysdb-standin/libsysdb.so', VECTORS));
  const vector = JSON.parse(await readFile(new URL('sgx-sign/b-debug-chroot-trusted/vector.json', VECTORS), 'utf8')) as {
    inputs: { loader_entrypoint_sha256: string };
  };
  const runtimedir = `${r.settings.pkglibdir}/runtime/glibc`;
  const outputRoot = fakeRootfs([
    ...appFiles,
    { path: r.argvFile!.path, type: 'file', content: r.argvFile!.content, mode: 0o444 },
    file(`${runtimedir}/libc.so.6`, 'gramine libc'),
    file(`${runtimedir}/ld-linux-x86-64.so.2`, 'gramine ld.so'),
  ]);
  const done = await completeManifest(dumpManifestToml(r.manifest as TomlTable), { constants, libos, rootfs: outputRoot });
  const entry = (done.manifest['loader'] as TomlTable)['entrypoint'] as TomlTable;
  t.is(entry['sha256'], vector.inputs.loader_entrypoint_sha256);
  t.deepEqual(done.trustedFiles, [
    { uri: `file:${runtimedir}/ld-linux-x86-64.so.2`, sha256: sha('gramine ld.so') },
    { uri: `file:${runtimedir}/libc.so.6`, sha256: sha('gramine libc') },
    { uri: 'file:/cconv/argv', sha256: sha('python3\0/app/main.py\0') },
    { uri: 'file:/app/main.py', sha256: sha('print("hi")\n') },
    { uri: 'file:/bin/python3', sha256: sha('python') },
    { uri: 'file:/bin/python3.11', sha256: sha('python') },
    { uri: 'file:/etc/passwd', sha256: sha(appFiles[3]!.content!) },
    { uri: 'file:/usr/bin/python3', sha256: sha('python') },
    { uri: 'file:/usr/bin/python3.11', sha256: sha('python') },
  ]);
  t.deepEqual(done.settings, { enclaveSize: 2 ** 30, maxThreads: 16, edmm: false, isvProdId: 3, isvSvn: 0 });
  t.true(done.bytes.toString('utf8').includes('libos]\nentrypoint = "/usr/bin/python3.11"\n'));
});
