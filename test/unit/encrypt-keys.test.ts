// Data keys: generation, parsing of key files, atomic 0600 writes, and SecretKey redaction.
import test from 'ava';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import { CconvError } from '../../src/errors.ts';
import { DATA_KEY_SIZE, SecretKey, generateDataKey, loadDataKey, parseDataKey, writeKeyFile } from '../../src/encrypt/index.ts';

const HEX = '00112233445566778899aabbccddeeff';
const tmp = () => mkdtemp(join(tmpdir(), 'cconv-keys-'));

test('generateDataKey gives 16 fresh random bytes each time', (t) => {
  const a = generateDataKey();
  const b = generateDataKey();
  t.is(a.length, DATA_KEY_SIZE);
  t.is(a.expose().length, 16);
  t.false(a.equals(b));
  t.true(a.equals(new SecretKey(a.expose())));
});

test('parseDataKey accepts 16 raw bytes, and 32 hex digits with an optional newline', (t) => {
  const raw = Buffer.from(HEX, 'hex');
  t.deepEqual(parseDataKey(raw, 'f').expose(), raw);
  t.deepEqual(parseDataKey(HEX, '--key').expose(), raw);
  t.deepEqual(parseDataKey(Buffer.from(`${HEX}\n`), 'f').expose(), raw);
  t.deepEqual(parseDataKey(Buffer.from(`${HEX.toUpperCase()}\r\n`), 'f').expose(), raw);
});

test('parseDataKey rejects anything else with E_KEY_INVALID and never echoes the content', (t) => {
  const cases: Array<string | Buffer> = [
    'secret-material-not-a-key',
    `${HEX}00`,
    HEX.slice(2),
    Buffer.from(`${HEX}\n\n`),
    Buffer.alloc(15, 0x41),
    Buffer.alloc(17, 0x41),
    `zz${HEX.slice(2)}`,
  ];
  for (const c of cases) {
    const err = t.throws(() => parseDataKey(c, 'keyfile'), { code: 'E_KEY_INVALID' }) as CconvError;
    const text = `${err.message} ${err.hint ?? ''}`;
    t.false(text.includes(c.toString()), `message leaks ${c.toString()}`);
    t.false(text.includes('AAAAAAAAAAAAAAA'));
    t.regex(err.message, /^keyfile: not a data key \(\d+ bytes/);
  }
  // A 16-character string is not taken as raw bytes: --key is always hex.
  t.throws(() => parseDataKey('0123456789abcdef', '--key'), { code: 'E_KEY_INVALID' });
});

test('loadDataKey reads raw and hex files; a missing file is E_IO', async (t) => {
  const dir = await tmp();
  await writeFile(join(dir, 'raw.bin'), Buffer.from(HEX, 'hex'));
  await writeFile(join(dir, 'hex.txt'), `${HEX}\n`);
  t.is((await loadDataKey(join(dir, 'raw.bin'))).expose().toString('hex'), HEX);
  t.is((await loadDataKey(join(dir, 'hex.txt'))).expose().toString('hex'), HEX);
  await t.throwsAsync(loadDataKey(join(dir, 'nope')), { code: 'E_IO' });
  await writeFile(join(dir, 'bad'), 'x'.repeat(40));
  await t.throwsAsync(loadDataKey(join(dir, 'bad')), { code: 'E_KEY_INVALID' });
});

test('writeKeyFile writes 16 raw bytes with mode 0600, leaves no temp file, refuses to overwrite', async (t) => {
  const dir = await tmp();
  const path = join(dir, 'data.key');
  const key = parseDataKey(HEX, 'k');
  await writeKeyFile(path, key);
  t.is((await readFile(path)).toString('hex'), HEX);
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.deepEqual(await readdir(dir), ['data.key']);
  await t.throwsAsync(writeKeyFile(path, generateDataKey()), { code: 'E_IO', message: /refusing to overwrite/ });
  t.is((await readFile(path)).toString('hex'), HEX);
  await writeKeyFile(path, generateDataKey(), { overwrite: true });
  t.not((await readFile(path)).toString('hex'), HEX);
  t.deepEqual(await readdir(dir), ['data.key']);
});

test('a SecretKey prints as [redacted] in strings, templates, JSON, inspect and format', (t) => {
  const key = parseDataKey(HEX, 'k');
  const b64 = Buffer.from(HEX, 'hex').toString('base64');
  const holder = { key, nested: { list: [key] } };
  const outputs = [
    String(key),
    `${key}`,
    key.toString(),
    JSON.stringify(key),
    JSON.stringify(holder),
    inspect(key),
    inspect(holder, { depth: 10, showHidden: true }),
    format('%s %o %O %j', key, holder, holder, holder),
    new CconvError('E_KEY_INVALID', `bad key ${key}`).message,
  ];
  for (const out of outputs) {
    t.true(out.includes('[redacted]'), out);
    t.false(out.toLowerCase().includes(HEX), out);
    t.false(out.includes(b64), out);
    t.false(out.includes('0, 17, 34'), out); // the bytes as a decimal list
    t.false(out.includes('00 11 22'), out); // the bytes as <Buffer 00 11 ...>
  }
  t.is(JSON.stringify(holder), '{"key":"[redacted]","nested":{"list":["[redacted]"]}}');
});

test('destroy zeroes the key', (t) => {
  const key = parseDataKey(HEX, 'k');
  key.destroy();
  t.true(key.expose().equals(Buffer.alloc(16)));
});
