/** Image config -> manifest mapping: entrypoint/cmd, PATH lookup, env, workdir, users. */
import test from 'ava';
import type { ContainerConfig, ImageConfig } from '../../src/image/types.ts';
import { DEFAULT_CONTAINER_PATH, renderManifest, serializeArgv } from '../../src/runtimes/index.ts';
import { dir, exe, fakeRootfs, file, symlink } from '../helpers/fake-rootfs.ts';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  '# a comment',
  'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin',
  'app:x:1000:1001::/home/app:/bin/sh',
  'broken line',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'www-data:x:33:', 'staff:x:50:', 'app:x:1001:', ''].join('\n');

const root = fakeRootfs([
  file('/etc/passwd', PASSWD),
  file('/etc/group', GROUP),
  exe('/usr/bin/python3.11'),
  symlink('/usr/bin/python3', 'python3.11'),
  symlink('/bin', 'usr/bin'),
  exe('/usr/bin/sh'),
  file('/usr/local/bin/tool', 'not executable'),
  exe('/opt/tools/tool'),
  exe('/app/run.sh'),
  exe('/app/bin/worker'),
  dir('/data'),
]);

function image(config: ContainerConfig): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } };
}

async function render(config: ContainerConfig) {
  return renderManifest({ config: image(config), rootfs: root });
}

// [name, config, expected libos.entrypoint, expected argv]
const entrypoints: Array<[string, ContainerConfig, string, string[]]> = [
  ['Entrypoint only, PATH lookup through symlinks', { Entrypoint: ['python3', '-m', 'http.server'] }, '/usr/bin/python3.11', ['python3', '-m', 'http.server']],
  ['Cmd only', { Cmd: ['sh', '-c', 'echo hi'] }, '/usr/bin/sh', ['sh', '-c', 'echo hi']],
  ['Entrypoint and Cmd are concatenated', { Entrypoint: ['/app/run.sh'], Cmd: ['--port', '80'] }, '/app/run.sh', ['/app/run.sh', '--port', '80']],
  ['null Entrypoint with Cmd', { Entrypoint: null, Cmd: ['/bin/sh'] }, '/usr/bin/sh', ['/bin/sh']],
  ['relative path is relative to WorkingDir', { Entrypoint: ['./run.sh'], WorkingDir: '/app' }, '/app/run.sh', ['./run.sh']],
  ['relative path with a directory', { Cmd: ['bin/worker'], WorkingDir: '/app/' }, '/app/bin/worker', ['bin/worker']],
  ['non-executable file earlier in PATH is skipped', { Cmd: ['tool'], Env: ['PATH=/usr/local/bin:/opt/tools'] }, '/opt/tools/tool', ['tool']],
  ['empty PATH component means WorkingDir', { Cmd: ['run.sh'], Env: ['PATH=/usr/bin:'], WorkingDir: '/app' }, '/app/run.sh', ['run.sh']],
];
for (const [name, config, entrypoint, argv] of entrypoints) {
  test(`entrypoint: ${name}`, async (t) => {
    const r = await render(config);
    t.is(r.entrypoint, entrypoint);
    t.is(r.manifest['libos'] && (r.manifest['libos'] as Record<string, unknown>)['entrypoint'], entrypoint);
    t.deepEqual(r.argv, argv);
    t.deepEqual(r.argvFile?.content, serializeArgv(argv));
  });
}

for (const [name, config] of [
  ['no Entrypoint and no Cmd', {}],
  ['empty arrays', { Entrypoint: [], Cmd: [] }],
  ['nulls', { Entrypoint: null, Cmd: null }],
] as Array<[string, ContainerConfig]>) {
  test(`entrypoint: ${name} is E_NO_ENTRYPOINT`, async (t) => {
    await t.throwsAsync(render(config), { code: 'E_NO_ENTRYPOINT' });
  });
}

for (const [name, config] of [
  ['a name not on PATH', { Cmd: ['nosuch'] }],
  ['a non-executable file', { Cmd: ['/usr/local/bin/tool'] }],
  ['a directory', { Cmd: ['/data'] }],
  ['a name only on the default PATH when PATH is set', { Cmd: ['python3'], Env: ['PATH=/opt/tools'] }],
] as Array<[string, ContainerConfig]>) {
  test(`entrypoint: ${name} is E_CONFIG`, async (t) => {
    await t.throwsAsync(render(config), { code: 'E_CONFIG' });
  });
}

test('env: image order kept, last value wins, PATH default, HOME from passwd, LD_LIBRARY_PATH composed', async (t) => {
  const r = await render({ Cmd: ['sh'], Env: ['B=2', 'A=1=one', 'EMPTY=', 'B=3', 'LD_LIBRARY_PATH=/opt/lib'] });
  const env = (r.manifest['loader'] as Record<string, Record<string, string>>)['env']!;
  t.deepEqual(Object.keys(env), ['B', 'A', 'EMPTY', 'LD_LIBRARY_PATH', 'PATH', 'HOME']);
  t.is(env['B'], '3');
  t.is(env['A'], '1=one');
  t.is(env['EMPTY'], '');
  t.is(env['PATH'], DEFAULT_CONTAINER_PATH);
  t.is(env['HOME'], '/root');
  t.is(
    env['LD_LIBRARY_PATH'],
    '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc:/opt/lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib',
  );
});

test('env: HOME from the image wins', async (t) => {
  const r = await render({ Cmd: ['sh'], Env: ['HOME=/srv'], User: 'app' });
  t.is((r.manifest['loader'] as Record<string, Record<string, string>>)['env']!['HOME'], '/srv');
});

test('workdir: normalised into fs.start_dir; a missing one is reported for creation', async (t) => {
  const existing = await render({ Cmd: ['sh'], WorkingDir: '/data/' });
  t.is((existing.manifest['fs'] as Record<string, unknown>)['start_dir'], '/data');
  t.deepEqual(existing.createDirs, []);
  const missing = await render({ Cmd: ['sh'], WorkingDir: '/srv/www' });
  t.is((missing.manifest['fs'] as Record<string, unknown>)['start_dir'], '/srv/www');
  t.deepEqual(missing.createDirs, ['/srv/www']);
  const none = await render({ Cmd: ['sh'] });
  t.false('start_dir' in (none.manifest['fs'] as Record<string, unknown>));
});

// [User, uid, gid, HOME]
const users: Array<[string | undefined, number, number, string]> = [
  [undefined, 0, 0, '/root'],
  ['', 0, 0, '/root'],
  ['app', 1000, 1001, '/home/app'],
  ['www-data', 33, 33, '/var/www'],
  ['1000', 1000, 1001, '/home/app'],
  ['4242', 4242, 0, '/'],
  ['app:staff', 1000, 50, '/home/app'],
  ['app:0', 1000, 0, '/home/app'],
  ['1000:50', 1000, 50, '/home/app'],
  ['4242:4343', 4242, 4343, '/'],
  ['4242:staff', 4242, 50, '/'],
];
for (const [user, uid, gid, home] of users) {
  test(`user ${JSON.stringify(user)} -> loader.uid ${uid}, loader.gid ${gid}`, async (t) => {
    const r = await render(user === undefined ? { Cmd: ['sh'] } : { Cmd: ['sh'], User: user });
    const loader = r.manifest['loader'] as Record<string, unknown>;
    t.is(loader['uid'], BigInt(uid));
    t.is(loader['gid'], BigInt(gid));
    t.is(r.uid, uid);
    t.is(r.gid, gid);
    t.is((loader['env'] as Record<string, string>)['HOME'], home);
  });
}

for (const user of ['nobody', 'app:nogroup', 'nobody:staff', ':staff', 'app:']) {
  test(`user ${JSON.stringify(user)} is E_CONFIG`, async (t) => {
    const err = await t.throwsAsync(render({ Cmd: ['sh'], User: user }), { code: 'E_CONFIG' });
    t.truthy(err?.message.includes(JSON.stringify(user)));
  });
}

test('a user name in an image without /etc/passwd is E_CONFIG with a hint; a numeric one works', async (t) => {
  const bare = fakeRootfs([exe('/app')]);
  const err = await t.throwsAsync(renderManifest({ config: image({ Cmd: ['/app'], User: 'app' }), rootfs: bare }), { code: 'E_CONFIG' });
  t.truthy((err as { hint?: string }).hint);
  const ok = await renderManifest({ config: image({ Cmd: ['/app'], User: '10:20' }), rootfs: bare });
  t.deepEqual([ok.uid, ok.gid], [10, 20]);
});
