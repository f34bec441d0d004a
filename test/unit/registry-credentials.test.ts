/**
 * Credential lookup: explicit, env vars, and ~/.docker/config.json (auths, identitytoken,
 * credHelpers, credsStore) with a fake docker-credential helper script on a temp PATH.
 */
import test from 'ava';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCredentials } from '../../src/transports/registry/credentials.ts';

let dir: string;
let env: NodeJS.ProcessEnv;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cconv-creds-'));
  // The fake helper answers from the server it reads on stdin, like docker-credential-* do.
  const helper = `#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
case "$server" in
  helped.example) echo '{"ServerURL":"helped.example","Username":"helper-user","Secret":"helper-pass"}' ;;
  store.example) echo '{"ServerURL":"store.example","Username":"<token>","Secret":"refresh-from-store"}' ;;
  broken.example) echo 'boom' >&2; exit 3 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
`;
  await writeFile(join(dir, 'docker-credential-fake'), helper);
  await chmod(join(dir, 'docker-credential-fake'), 0o755);
  env = { PATH: `${dir}:${process.env.PATH ?? ''}` };
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(name: string, doc: unknown): Promise<string> {
  const d = join(dir, name);
  await rm(d, { recursive: true, force: true });
  await mkdir(d);
  await writeFile(join(d, 'config.json'), JSON.stringify(doc));
  return d;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('explicit credentials win over env and config', async (t) => {
  const d = await config('c1', { auths: { 'r.example': { auth: b64('cfg:cfg') } } });
  const got = await resolveCredentials({ registry: 'r.example', explicit: { username: 'me', password: 'pw' }, env: { CCONV_REGISTRY_USERNAME: 'e', CCONV_REGISTRY_PASSWORD: 'e' }, dockerConfigDir: d });
  t.deepEqual(got, { username: 'me', password: 'pw' });
});

test('env vars win over the config file', async (t) => {
  const d = await config('c2', { auths: { 'r.example': { auth: b64('cfg:cfg') } } });
  t.deepEqual(await resolveCredentials({ registry: 'r.example', env: { CCONV_REGISTRY_USERNAME: 'envu', CCONV_REGISTRY_PASSWORD: 'envp' }, dockerConfigDir: d }), { username: 'envu', password: 'envp' });
});

test('auths: base64 auth (password may contain colons), identitytoken, keys with scheme, Docker Hub key', async (t) => {
  const d = await config('c3', {
    auths: {
      'https://r.example/v1/': { auth: b64('user:pa:ss') },
      'acr.example': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-tok' },
      'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
    },
  });
  t.deepEqual(await resolveCredentials({ registry: 'r.example', env: {}, dockerConfigDir: d }), { username: 'user', password: 'pa:ss' });
  t.deepEqual(await resolveCredentials({ registry: 'acr.example', env: {}, dockerConfigDir: d }), { identityToken: 'refresh-tok' });
  t.deepEqual(await resolveCredentials({ registry: 'docker.io', env: {}, dockerConfigDir: d }), { username: 'hubuser', password: 'hubpass' });
  t.is(await resolveCredentials({ registry: 'other.example', env: {}, dockerConfigDir: d }), undefined);
});

test('credHelpers per registry, credsStore for the rest, auths when the helper has nothing', async (t) => {
  const d = await config('c4', {
    credHelpers: { 'helped.example': 'fake' },
    credsStore: 'fake',
    auths: { 'plain.example': { auth: b64('p:q') } },
  });
  t.deepEqual(await resolveCredentials({ registry: 'helped.example', env, dockerConfigDir: d }), { username: 'helper-user', password: 'helper-pass' });
  t.deepEqual(await resolveCredentials({ registry: 'store.example', env, dockerConfigDir: d }), { identityToken: 'refresh-from-store' });
  t.deepEqual(await resolveCredentials({ registry: 'plain.example', env, dockerConfigDir: d }), { username: 'p', password: 'q' });
  t.is(await resolveCredentials({ registry: 'unknown.example', env, dockerConfigDir: d }), undefined);
});

test('a failing or missing helper is E_AUTH; a malformed config is E_CONFIG; no config is anonymous', async (t) => {
  const d = await config('c5', { credHelpers: { 'broken.example': 'fake', 'gone.example': 'does-not-exist' } });
  await t.throwsAsync(resolveCredentials({ registry: 'broken.example', env, dockerConfigDir: d }), { code: 'E_AUTH' });
  await t.throwsAsync(resolveCredentials({ registry: 'gone.example', env, dockerConfigDir: d }), { code: 'E_AUTH' });
  const bad = join(dir, 'c6');
  await mkdir(bad, { recursive: true });
  await writeFile(join(bad, 'config.json'), '{not json');
  await t.throwsAsync(resolveCredentials({ registry: 'r.example', env: {}, dockerConfigDir: bad }), { code: 'E_CONFIG' });
  t.is(await resolveCredentials({ registry: 'r.example', env: {}, dockerConfigDir: join(dir, 'none') }), undefined);
  t.is(await resolveCredentials({ registry: 'r.example', env: { DOCKER_CONFIG: join(dir, 'none') } }), undefined);
});
