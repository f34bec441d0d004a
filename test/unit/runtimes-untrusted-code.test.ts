/**
 * Allowed files that cover code (issue 17): an sgx.allowed_files entry from the policy or the
 * manifest fragment that covers the entrypoint, a runtime library or an ELF file of the image is
 * E_CONFIG naming the entry, its origin and what it covers, in debug enclaves too, unless the
 * allowUntrustedCode setting (--allow-untrusted-code) accepts it; entries that cover only data pass.
 */
import test from 'ava';
import type { ImageConfig } from '../../src/image/types.ts';
import { defaultPolicy, parsePolicy, policyWithOverrides, selectFiles, type Policy } from '../../src/policy/index.ts';
import { renderManifest, type ManifestTable, type RenderInput } from '../../src/runtimes/index.ts';
import { dir, exe, fakeRootfs, file, symlink } from '../helpers/fake-rootfs.ts';

/** An x86-64 ELF header's first bytes, then padding: what the check reads is the 4-byte magic. */
const ELF = (name: string): Buffer => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56), Buffer.from(name)]);

const root = fakeRootfs([
  exe('/usr/bin/app', ELF('app')),
  symlink('/lib', 'usr/lib'),
  file('/usr/lib/libz.so.1', ELF('libz')),
  file('/opt/plugins/libx.so', ELF('plugin')),
  file('/opt/plugins/README', 'plugins go here\n'),
  file('/srv/data/table.csv', 'a,b\n1,2\n'),
  file('/srv/data/run.sh', '#!/bin/sh\necho not an ELF file\n', 0o755),
  dir('/tmp'),
]);
const config: ImageConfig = { architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/usr/bin/app'] }, rootfs: { type: 'layers', diff_ids: [] } };
const RUNTIME_LIBC = 'file:/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/libc.so.6';

async function render(options: { allow?: string[]; policy?: Policy; fragment?: ManifestTable } & Partial<RenderInput> = {}) {
  const { allow, policy, ...rest } = options;
  const selection = selectFiles(root, policy ?? policyWithOverrides(await defaultPolicy(), { allow: allow ?? [] }));
  return renderManifest({ config, rootfs: root, selection, runtimeTrustedFiles: [{ uri: RUNTIME_LIBC, sha256: '00'.repeat(32) }], ...rest });
}
const allowing = (...uris: string[]): ManifestTable => ({ sgx: { allowed_files: uris } });

test('a fragment allowing file:/ is E_CONFIG naming the entry and the entrypoint it covers, in a debug enclave too', async (t) => {
  for (const debug of [false, true]) {
    const err = await t.throwsAsync(render({ fragment: allowing('file:/'), settings: { debug } }), { code: 'E_CONFIG' });
    t.is(err!.message, 'sgx.allowed_files entry "file:/" (from the manifest fragment) covers the entrypoint /usr/bin/app: Gramine does not check allowed files, so the host could replace code the enclave runs');
    t.regex((err as { hint?: string }).hint ?? '', /--allow-untrusted-code/);
  }
});

test('a policy rule allow /** is E_CONFIG naming the entrypoint\'s own allowed entry', async (t) => {
  const policy = parsePolicy({ version: 1, rules: [{ type: 'allow', paths: ['/**'] }] });
  const err = await t.throwsAsync(render({ policy }), { code: 'E_CONFIG' });
  t.is(err!.message, 'sgx.allowed_files entry "file:/usr/bin/app" (from an allow rule of the policy) covers the entrypoint /usr/bin/app: Gramine does not check allowed files, so the host could replace code the enclave runs');
  // A literal '/' allow pattern too (the entry named is the closest one above the entrypoint).
  await t.throwsAsync(render({ allow: ['/'] }), { code: 'E_CONFIG', message: /^sgx\.allowed_files entry "file:\/usr\/bin\/app" \(from an allow rule of the policy\) covers the entrypoint/ });
});

test('an allowed directory above an ELF file, or the ELF file itself, is E_CONFIG; under a symlinked alias too', async (t) => {
  await t.throwsAsync(render({ allow: ['/opt/plugins/**'] }), { code: 'E_CONFIG', message: /^sgx\.allowed_files entry "file:\/opt\/plugins\/libx\.so" \(from an allow rule of the policy\) covers the ELF file \/opt\/plugins\/libx\.so:/ });
  await t.throwsAsync(render({ fragment: allowing('file:/opt/') }), { code: 'E_CONFIG', message: /^sgx\.allowed_files entry "file:\/opt\/" \(from the manifest fragment\) covers the ELF file \/opt\/plugins\/libx\.so:/ });
  await t.throwsAsync(render({ fragment: allowing('file:/opt') }), { code: 'E_CONFIG', message: /covers the ELF file \/opt\/plugins\/libx\.so:/ });
  // The loader opens libraries by their LD_LIBRARY_PATH path: /lib is an alias of /usr/lib.
  await t.throwsAsync(render({ fragment: allowing('file:/lib/') }), { code: 'E_CONFIG', message: /^sgx\.allowed_files entry "file:\/lib\/" \(from the manifest fragment\) covers the ELF file \/lib\/libz\.so\.1:/ });
  // Paths are normalised as Gramine does.
  await t.throwsAsync(render({ fragment: allowing('file:/srv/..//usr/lib/./libz.so.1') }), { code: 'E_CONFIG', message: /covers the ELF file \/usr\/lib\/libz\.so\.1:/ });
});

test('an allowed entry over the runtime\'s libraries is E_CONFIG', async (t) => {
  await t.throwsAsync(render({ fragment: allowing('file:/usr/lib/x86_64-linux-gnu/gramine/') }), {
    code: 'E_CONFIG',
    message: /^sgx\.allowed_files entry "file:\/usr\/lib\/x86_64-linux-gnu\/gramine\/" \(from the manifest fragment\) covers the runtime library \/usr\/lib\/x86_64-linux-gnu\/gramine\/runtime\/glibc\/libc\.so\.6:/,
  });
  // Without pre-hashed runtime files the runtime directory stands for them: an entry below it counts.
  await t.throwsAsync(render({ fragment: allowing(`${RUNTIME_LIBC}`), runtimeTrustedFiles: undefined as never }), { code: 'E_CONFIG', message: /covers the runtime library \/usr\/lib\/x86_64-linux-gnu\/gramine\/runtime\/glibc\/libc\.so\.6:/ });
});

test('allowed entries over data only pass: files that are not ELF, directories without code, names that only share a prefix, dev: and relative URIs', async (t) => {
  const r = await render({ allow: ['/srv/data/**', '/tmp/', '/opt/plugins/README', '/run/app.sock'], fragment: allowing('file:/usr/bin/app2', 'file:/usr/b', 'dev:/dev/attestation/quote', 'file:usr/bin/app') });
  t.deepEqual(r.untrustedCode, []);
  t.deepEqual((r.manifest['sgx'] as ManifestTable)['allowed_files'], [
    'file:/opt/plugins/README', 'file:/srv/data/run.sh', 'file:/srv/data/table.csv', 'file:/run/app.sock', 'file:/tmp/',
    'file:/usr/bin/app2', 'file:/usr/b', 'dev:/dev/attestation/quote', 'file:usr/bin/app',
  ]);
});

test('allowUntrustedCode accepts them and lists every entry that covers code, with what it covers', async (t) => {
  const r = await render({ allow: ['/opt/plugins/**', '/srv/data/**'], fragment: allowing('file:/', 'file:/lib/'), settings: { allowUntrustedCode: true } });
  t.deepEqual(r.untrustedCode, [
    { entry: 'file:/', origin: 'fragment', covers: 'the entrypoint /usr/bin/app' },
    { entry: 'file:/lib/', origin: 'fragment', covers: 'the ELF file /lib/libz.so.1' },
    { entry: 'file:/opt/plugins/libx.so', origin: 'policy', covers: 'the ELF file /opt/plugins/libx.so' },
  ]);
  // The setting writes nothing into the manifest: the enclave identity does not depend on it.
  const manifest = (await render({ allow: ['/srv/data/**'] })).manifest;
  t.deepEqual((await render({ allow: ['/srv/data/**'], settings: { allowUntrustedCode: true } })).manifest, manifest);
});
