// `cconv keys gen-broker|open`: broker key files, recovering a data key, wrong keys, --print.
import test from 'ava';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitStatus } from '../../src/cli/exit.ts';
import { loadBrokerPublicKey, parseDataKey, sealDataKey, withImageDigest } from '../../src/encrypt/index.ts';
import { cli } from '../helpers/cli.ts';

const HEX = '5a5b5c5d5e5f60616263646566676869';
const IDENTITY = { mrenclave: '11'.repeat(32), mrsigner: '22'.repeat(32), isvProdId: 1, isvSvn: 2, debug: false };

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-clikeys-'));
  const gen = await cli(['--json', 'keys', 'gen-broker', '--out', join(dir, 'broker')]);
  const pub = await loadBrokerPublicKey(join(dir, 'broker', 'broker.pub'));
  const env = withImageDigest(sealDataKey(parseDataKey(HEX, 'k'), pub, { keyName: 'app_key', identity: IDENTITY }), `sha256:${'9'.repeat(64)}`);
  await writeFile(join(dir, 'envelope.json'), JSON.stringify(env, null, 2));
  return { dir, gen, env };
}

test('gen-broker writes broker.key (0600) and broker.pub (0644) into a new 0700 directory', async (t) => {
  const { dir, gen } = await setup();
  t.is(gen.status, 0, gen.stderr);
  const r = JSON.parse(gen.stdout);
  t.deepEqual(Object.keys(r), ['secretKeyFile', 'publicKeyFile', 'keyId']);
  t.is((await stat(join(dir, 'broker'))).mode & 0o777, 0o700);
  t.is((await stat(r.secretKeyFile)).mode & 0o777, 0o600);
  t.is((await stat(r.publicKeyFile)).mode & 0o777, 0o644);
  t.deepEqual((await readdir(join(dir, 'broker'))).sort(), ['broker.key', 'broker.pub']);
  const secret = JSON.parse(await readFile(r.secretKeyFile, 'utf8')).secretKey as string;
  t.false(gen.stdout.includes(secret));
  t.false(gen.stderr.includes(secret));
  // No silent replacement of a broker key.
  const again = await cli(['keys', 'gen-broker', '--out', join(dir, 'broker')]);
  t.is(again.status, ExitStatus.environment);
  t.regex(again.stderr, /refusing to overwrite/);
});

test('open --out recovers the data key into a 0600 file and reports the identity', async (t) => {
  const { dir } = await setup();
  const run = await cli(['--json', 'keys', 'open', '--envelope', join(dir, 'envelope.json'), '--broker-key', join(dir, 'broker', 'broker.key'), '--out', join(dir, 'data.key')]);
  t.is(run.status, 0, run.stderr);
  t.is((await readFile(join(dir, 'data.key'))).toString('hex'), HEX);
  t.is((await stat(join(dir, 'data.key'))).mode & 0o777, 0o600);
  const r = JSON.parse(run.stdout);
  t.is(r.keyName, 'app_key');
  t.deepEqual(r.identity, { mrenclave: IDENTITY.mrenclave, mrsigner: IDENTITY.mrsigner, isvprodid: 1, isvsvn: 2, debug: false });
  t.is(r.imageDigest, `sha256:${'9'.repeat(64)}`);
  t.false(run.stdout.includes(HEX));
  t.false(run.stderr.includes(HEX));
});

test('open with another broker key fails with a clear error and writes nothing', async (t) => {
  const { dir } = await setup();
  await cli(['keys', 'gen-broker', '--out', join(dir, 'other')]);
  const run = await cli(['keys', 'open', '--envelope', join(dir, 'envelope.json'), '--broker-key', join(dir, 'other', 'broker.key'), '--out', join(dir, 'data.key')]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /^cconv: error E_KEY_INVALID: envelope was not sealed to this broker key$/m);
  t.false((await readdir(dir)).includes('data.key'));
});

test('open needs --out or --print; --print shows the hex key with a loud warning', async (t) => {
  const { dir } = await setup();
  const args = ['keys', 'open', '--envelope', join(dir, 'envelope.json'), '--broker-key', join(dir, 'broker', 'broker.key')];
  const none = await cli(args);
  t.is(none.status, ExitStatus.usage);
  t.regex(none.stderr, /--out FILE/);
  const printed = await cli([...args, '--print']);
  t.is(printed.status, 0, printed.stderr);
  t.is(printed.stdout, `${HEX}\n`);
  t.regex(printed.stderr, /WARNING: printing the data key in clear/);
});

test('open rejects a malformed or tampered envelope', async (t) => {
  const { dir, env } = await setup();
  await writeFile(join(dir, 'bad.json'), 'not json');
  const base = ['keys', 'open', '--broker-key', join(dir, 'broker', 'broker.key'), '--out', join(dir, 'k')];
  let run = await cli([...base, '--envelope', join(dir, 'bad.json')]);
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /E_CONFIG/);
  await writeFile(join(dir, 'tampered.json'), JSON.stringify({ ...env, identity: { ...env.identity, debug: true } }));
  run = await cli([...base, '--envelope', join(dir, 'tampered.json')]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /keyName or identity was modified/);
  t.false((await readdir(dir)).includes('k'));
});
