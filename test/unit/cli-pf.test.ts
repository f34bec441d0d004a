// `cconv pf encrypt|decrypt|info` against Gramine's vectors and round trips; no partial plaintext.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitStatus } from '../../src/cli/exit.ts';
import { cli } from '../helpers/cli.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const PF = new URL('pf/', VECTORS_URL);
const INDEX = JSON.parse(readFileSync(new URL('index.json', PF), 'utf8')) as {
  wrap_key_file: string;
  vectors: Array<{ name: string; path: string; plaintext: string; ciphertext: string; plaintext_size: number; ciphertext_size: number; metadata: { major_version: number; minor_version: number } }>;
};
const V = INDEX.vectors.find((v) => v.name === 'size_100000')!;
const at = (rel: string) => new URL(rel, PF).pathname;
const KEY_FILE = at(INDEX.wrap_key_file);
const KEY_HEX = readFileSync(KEY_FILE).toString('hex');
const tmp = () => mkdtemp(join(tmpdir(), 'cconv-clipf-'));

test('decrypt a Gramine vector with --key-file and the path from index.json', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'plain.bin');
  const run = await cli(['pf', 'decrypt', '--key-file', KEY_FILE, '--path', V.path, at(V.ciphertext), out]);
  t.is(run.status, 0, run.stderr);
  t.deepEqual(await readFile(out), await readFile(at(V.plaintext)));
  t.is((await stat(out)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(dir), ['plain.bin']);
  t.regex(run.stdout, new RegExp(`bound to ${V.path}`));
});

test('decrypt with the wrong path, the wrong key, or no --path fails without an output file', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'plain.bin');
  let run = await cli(['pf', 'decrypt', '--key-file', KEY_FILE, '--path', `${V.path}.other`, at(V.ciphertext), out]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /E_PF_PATH: protected file: Invalid path/);
  run = await cli(['pf', 'decrypt', '--key', 'ff'.repeat(16), '--path', V.path, at(V.ciphertext), out]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /E_PF_AUTH/);
  t.false(run.stderr.includes('ff'.repeat(16)));
  run = await cli(['pf', 'decrypt', '--key-file', KEY_FILE, at(V.ciphertext), out]);
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /--no-check-path/);
  t.deepEqual(await readdir(dir), []);
  // --no-check-path skips the check.
  run = await cli(['pf', 'decrypt', '--key', KEY_HEX, '--no-check-path', at(V.ciphertext), out]);
  t.is(run.status, 0, run.stderr);
  t.deepEqual(await readFile(out), await readFile(at(V.plaintext)));
});

test('a node tampered after the first leaves no plaintext behind', async (t) => {
  const dir = await tmp();
  const bad = Buffer.from(await readFile(at(V.ciphertext)));
  bad[bad.length - 100]! ^= 0x01; // inside the last data node: fails after earlier nodes were decrypted
  await writeFile(join(dir, 'bad.pf'), bad);
  const run = await cli(['pf', 'decrypt', '--key-file', KEY_FILE, '--path', V.path, join(dir, 'bad.pf'), join(dir, 'plain.bin')]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /E_PF_AUTH: protected file: data node [1-9]\d* \(node/); // failed mid-stream, not on node 0
  t.deepEqual(await readdir(dir), ['bad.pf']);
});

test('encrypt then decrypt round trips; the output is bound to --path; overwrite needs --force', async (t) => {
  const dir = await tmp();
  const plain = randomBytes(200_000);
  await writeFile(join(dir, 'in.bin'), plain);
  const keyFile = join(dir, 'k.hex');
  await writeFile(keyFile, `${randomBytes(16).toString('hex')}\n`);
  const enc = await cli(['--json', 'pf', 'encrypt', '--key-file', keyFile, '--path', '/app/./model//w.bin', join(dir, 'in.bin'), join(dir, 'w.pf')]);
  t.is(enc.status, 0, enc.stderr);
  const r = JSON.parse(enc.stdout);
  t.deepEqual(r, { input: join(dir, 'in.bin'), output: join(dir, 'w.pf'), boundPath: '/app/model/w.bin', size: 200_000, protectedSize: (await stat(join(dir, 'w.pf'))).size });
  const dec = await cli(['pf', 'decrypt', '--key-file', keyFile, '--path', '/app/model/w.bin', join(dir, 'w.pf'), join(dir, 'out.bin')]);
  t.is(dec.status, 0, dec.stderr);
  t.deepEqual(await readFile(join(dir, 'out.bin')), plain);
  const again = await cli(['pf', 'encrypt', '--key-file', keyFile, '--path', '/x', join(dir, 'in.bin'), join(dir, 'w.pf')]);
  t.is(again.status, ExitStatus.environment);
  t.regex(again.stderr, /refusing to overwrite/);
  const forced = await cli(['pf', 'encrypt', '--key-file', keyFile, '--path', '/x', '--force', join(dir, 'in.bin'), join(dir, 'w.pf')]);
  t.is(forced.status, 0, forced.stderr);
  t.deepEqual((await readdir(dir)).sort(), ['in.bin', 'k.hex', 'out.bin', 'w.pf']);
  // A missing input is E_IO, and a key is required.
  t.is((await cli(['pf', 'encrypt', '--key-file', keyFile, '--path', '/x', join(dir, 'nope'), join(dir, 'n.pf')])).status, ExitStatus.environment);
  t.is((await cli(['pf', 'encrypt', '--path', '/x', join(dir, 'in.bin'), join(dir, 'n.pf')])).status, ExitStatus.usage);
});

test('info: version, sizes and nodes without a key; bound path and plaintext size with it', async (t) => {
  let run = await cli(['--json', 'pf', 'info', at(V.ciphertext)]);
  t.is(run.status, 0, run.stderr);
  t.deepEqual(JSON.parse(run.stdout), {
    file: at(V.ciphertext),
    format: 'gramine-protected-file',
    version: `${V.metadata.major_version}.${V.metadata.minor_version}`,
    fileSize: V.ciphertext_size,
    nodes: V.ciphertext_size / 4096,
  });
  run = await cli(['--json', 'pf', 'info', '--key-file', KEY_FILE, at(V.ciphertext)]);
  t.is(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  t.is(r.boundPath, V.path);
  t.is(r.size, V.plaintext_size);
  t.true(r.consistent);
  run = await cli(['pf', 'info', at(V.plaintext)]);
  t.is(run.status, ExitStatus.crypto);
  t.regex(run.stderr, /E_PF_FORMAT/);
});
