/**
 * The paths cconv adds to an image (pkglibdir, the trusted argv file) against what the image
 * already has (issue 17 item 8c): a collision is a problem of the image's content and the
 * settings, E_CONFIG with a hint naming the setting, never E_MANIFEST_TEMPLATE.
 */
import test from 'ava';
import type { CconvError } from '../../src/errors.ts';
import type { ImageConfig } from '../../src/image/types.ts';
import { renderManifest, type GramineSettings } from '../../src/runtimes/index.ts';
import { dir, exe, fakeRootfs, file, symlink, type FakeEntry } from '../helpers/fake-rootfs.ts';

const config: ImageConfig = { architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/usr/bin/app'] }, rootfs: { type: 'layers', diff_ids: [] } };

function render(extra: FakeEntry[], settings: Partial<GramineSettings> = {}) {
  return renderManifest({ config, rootfs: fakeRootfs([exe('/usr/bin/app'), ...extra]), settings });
}

test('an image that already has a file at the argv path is E_CONFIG, with a hint naming argvPath', async (t) => {
  const err = await t.throwsAsync<CconvError>(render([file('/cconv/argv', 'x')]), { code: 'E_CONFIG' });
  t.is(err.message, 'the image already has /cconv/argv, where cconv puts the trusted argv file (argvPath /cconv/argv)');
  t.regex(err.hint ?? '', /"argvPath" in the "gramine" section/);
});

test('a file or symlink where a parent of the argv path goes is E_CONFIG', async (t) => {
  await t.throwsAsync(render([file('/cconv', 'x')]), { code: 'E_CONFIG', message: /^the image has a file at \/cconv, where cconv puts the trusted argv file/ });
  await t.throwsAsync(render([dir('/etc'), symlink('/cconv', '/etc')]), { code: 'E_CONFIG', message: /^the image has a symlink at \/cconv,/ });
});

test('another argvPath, or no argv file (insecureArgs), resolves the collision', async (t) => {
  const r = await render([file('/cconv/argv', 'x')], { argvPath: '/opt/cconv-argv' });
  t.is(r.argvFile?.path, '/opt/cconv-argv');
  t.is((await render([file('/cconv/argv', 'x')], { insecureArgs: true })).argvFile, undefined);
});

test('a /cconv directory without an argv file is fine', async (t) => {
  t.is((await render([file('/cconv/other', 'x')])).argvFile?.path, '/cconv/argv');
});

test('an image that already has pkglibdir, or a symlink on its way, is E_CONFIG with a hint naming pkglibdir', async (t) => {
  const err = await t.throwsAsync<CconvError>(render([file('/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so', 'x')]), { code: 'E_CONFIG' });
  t.regex(err.message, /^the image already has \/usr\/lib\/x86_64-linux-gnu\/gramine, where cconv puts Gramine's runtime files/);
  t.regex(err.hint ?? '', /"pkglibdir"/);
  await t.throwsAsync(render([dir('/usr/lib64'), symlink('/usr/lib/x86_64-linux-gnu', '/usr/lib64')]), { code: 'E_CONFIG', message: /has a symlink at \/usr\/lib\/x86_64-linux-gnu,/ });
  t.truthy(await render([file('/usr/lib/gramine/x', 'x')], { pkglibdir: '/usr/lib/gramine2' }));
});
