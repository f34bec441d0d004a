import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import test from 'ava';
import tar from 'tar-stream';
import { comparePaths, compilePolicy, defaultPolicy, parsePolicy, selectFiles, type Policy } from '../../src/policy/index.ts';
import { chardev, dir, exe, fakeRootfs, file, hardlink, symlink, type FakeEntry } from '../helpers/fake-rootfs.ts';
import { VECTORS_URL as VECTORS } from '../helpers/enclave-vectors.ts';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const trustAll: Policy = { version: 1, rules: [{ type: 'trust', paths: ['/**'] }] };

test('default policy: regular files trusted, GSC exclusions and special files left out', async (t) => {
  const root = fakeRootfs([
    exe('/usr/bin/app', 'app'),
    file('/etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
    file('/etc/shadow', 'secret'),
    file('/etc/security/limits.conf', 'x'),
    file('/var/log/dpkg.log', 'log'),
    file('/boot/vmlinuz', 'k'),
    chardev('/dev/null'),
    dir('/proc'),
    file('/.dockerenv', ''),
  ]);
  const sel = selectFiles(root, await defaultPolicy());
  t.deepEqual(sel.trusted.map((f) => f.uri), ['file:/etc/passwd', 'file:/usr/bin/app']);
  t.is(sel.trusted[1]!.sha256, sha('app'));
  t.is(sel.trusted[1]!.size, 3);
  t.deepEqual(sel.allowed, []);
  t.deepEqual(sel.encrypted, []);
  t.is(sel.excluded, 5); // shadow, limits.conf, dpkg.log, vmlinuz, .dockerenv (the device is not a file)
  t.is(sel.skipped, 0);
});

test('a symlink to a file is listed under its own URI with the target hash; hardlinks are files', (t) => {
  const root = fakeRootfs([
    file('/lib/libfoo.so.1', 'foo'),
    symlink('/lib/libfoo.so', 'libfoo.so.1'),
    symlink('/etc/alt', '/lib/../lib/libfoo.so'),
    hardlink('/lib/hard', '/lib/libfoo.so.1'),
  ]);
  const sel = selectFiles(root, trustAll);
  t.deepEqual(sel.trusted, [
    { path: '/etc/alt', uri: 'file:/etc/alt', sha256: sha('foo'), size: 3, target: '/lib/libfoo.so.1' },
    { path: '/lib/hard', uri: 'file:/lib/hard', sha256: sha('foo'), size: 3 },
    { path: '/lib/libfoo.so', uri: 'file:/lib/libfoo.so', sha256: sha('foo'), size: 3, target: '/lib/libfoo.so.1' },
    { path: '/lib/libfoo.so.1', uri: 'file:/lib/libfoo.so.1', sha256: sha('foo'), size: 3 },
  ]);
});

test('symlinks that escape are resolved inside the root and never reach the host', async (t) => {
  const hostPasswd = await readFile('/etc/passwd'); // exists on the test host, absent from the fake root
  t.true(hostPasswd.length > 0);
  const root = fakeRootfs([
    file('/etc/app.conf', 'in-image'),
    symlink('/a/up', '../../../../etc/app.conf'), // '..' stops at the root
    symlink('/a/host', '/etc/passwd'), // dangling inside the root
    symlink('/a/hostrel', '../../../../../etc/hostname'),
    symlink('/a/loop1', 'loop2'),
    symlink('/a/loop2', 'loop1'),
    symlink('/a/todir', '/etc'),
  ]);
  const sel = selectFiles(root, trustAll);
  t.deepEqual(sel.trusted.map((f) => [f.path, f.sha256]), [
    ['/a/todir/app.conf', sha('in-image')],
    ['/a/up', sha('in-image')],
    ['/etc/app.conf', sha('in-image')],
  ]);
  t.false(sel.trusted.some((f) => f.sha256 === sha(hostPasswd)));
  t.is(sel.skipped, 4); // host, hostrel, loop1, loop2
});

test('files below symlinked directories are listed under their alias; loops are not descended', (t) => {
  const root = fakeRootfs([
    symlink('/lib', 'usr/lib'),
    file('/usr/lib/x86_64-linux-gnu/libc.so.6', 'libc'),
    exe('/usr/bin/sh', 'sh'),
    symlink('/usr/bin/X11', '.'),
    symlink('/usr/lib/self', '../..'),
  ]);
  const sel = selectFiles(root, trustAll);
  t.deepEqual(sel.trusted.map((f) => f.path), [
    '/lib/x86_64-linux-gnu/libc.so.6',
    '/usr/bin/sh',
    '/usr/lib/x86_64-linux-gnu/libc.so.6',
  ]);
  t.is(sel.trusted[0]!.target, '/usr/lib/x86_64-linux-gnu/libc.so.6');
  t.is(sel.skipped, 3); // X11 -> ., /usr/lib/self and /lib/self -> /
});

test('allow, encrypt and literal allowed paths', (t) => {
  const root = fakeRootfs([file('/app/run', 'r'), file('/app/data/db', 'd'), file('/app/cache/c', 'c'), dir('/srv/out')]);
  const policy = parsePolicy({
    version: 1,
    rules: [
      { type: 'trust', paths: ['/**'] },
      { type: 'encrypt', paths: ['/app/data'] },
      { type: 'allow', paths: ['/app/cache/*', '/srv/out', '/run/app.sock', '/tmp/x/'] },
      { type: 'exclude', paths: ['/tmp'] },
    ],
  });
  const sel = selectFiles(root, policy);
  t.deepEqual(sel.trusted.map((f) => f.path), ['/app/run']);
  t.deepEqual(sel.encrypted.map((f) => f.path), ['/app/data/db']);
  t.deepEqual(sel.allowed.map((f) => f.path), ['/app/cache/c']);
  t.deepEqual(sel.allowedPaths, ['/run/app.sock', '/srv/out/']); // /tmp/x/ is overridden by the later exclude
});

test('output is sorted component-wise by bytes, whatever the entry order, and deterministic', (t) => {
  const entries: FakeEntry[] = [file('/a-c', '1'), file('/a/b', '2'), file('/a.b', '3'), file('/Z', '4'), file('/é', '5'), file('/z', '6')];
  const one = selectFiles(fakeRootfs(entries), trustAll);
  const two = selectFiles(fakeRootfs([...entries].reverse()), trustAll);
  t.deepEqual(one.trusted.map((f) => f.path), ['/Z', '/a/b', '/a-c', '/a.b', '/z', '/é']);
  t.deepEqual(JSON.stringify(one), JSON.stringify(two));
  t.true(comparePaths('/a/b', '/a-c') < 0);
});

test('a root flattened without hashes is an internal error', (t) => {
  t.throws(() => selectFiles(fakeRootfs([file('/a', 'x')], { hash: false }), trustAll), { code: 'E_INTERNAL' });
});

async function rootFromTar(url: URL): Promise<FakeEntry[]> {
  const out: FakeEntry[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') out.push(file(header.name, Buffer.concat(chunks), header.mode ?? 0o644));
        else if (header.type === 'directory') out.push(dir(header.name));
        else if (header.type === 'symlink') out.push(symlink(header.name, header.linkname ?? ''));
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  createReadStream(url).pipe(extract);
  await done;
  return out.filter((e) => e.path !== './');
}

test("Gramine's chroot expansion (vector b) agrees with selectFiles on every file it lists", async (t) => {
  const root = fakeRootfs(await rootFromTar(new URL('sgx-sign/b-debug-chroot-trusted/rootfs.tar', VECTORS)));
  const expected = JSON.parse(
    await readFile(new URL('sgx-sign/b-debug-chroot-trusted/trusted_files.json', VECTORS), 'utf8'),
  ) as Array<{ uri: string; sha256: string }>;
  const sel = selectFiles(root, trustAll);
  const ours = new Map(sel.trusted.map((f) => [f.uri, f.sha256]));
  for (const e of expected) t.is(ours.get(e.uri), e.sha256, e.uri);
  // Beyond Gramine's list: only the aliases through the directory symlink data-dirlink -> data.
  const extra = sel.trusted.filter((f) => !expected.some((e) => e.uri === f.uri));
  t.deepEqual(extra.map((f) => f.path), [
    '/usr/share/app/data-dirlink/a.txt',
    '/usr/share/app/data-dirlink/b.bin',
    '/usr/share/app/data-dirlink/nested/c.txt',
    '/usr/share/app/data-dirlink/nested/d.bin',
  ]);
  for (const f of extra) t.is(ours.get(`file:${f.target}`), f.sha256);
});

test('compiled and plain policies select the same files (literal allow paths need the plain one)', async (t) => {
  const root = fakeRootfs([file('/usr/a', 'a'), file('/opt/b', 'b')]);
  const policy = parsePolicy({ version: 1, rules: [{ type: 'trust', paths: ['/usr'] }] });
  t.deepEqual(selectFiles(root, policy), selectFiles(root, compilePolicy(policy)));
});

test('encrypt rules: a literal path that matches nothing to encrypt is E_CONFIG saying why; special files a glob matches are reported', (t) => {
  const root = fakeRootfs([
    file('/app/model/weights.bin', 'w'),
    file('/app/readme', 'r'),
    { path: '/app/pipe', type: 'fifo', mode: 0o644 },
    chardev('/app/dev'),
    dir('/app/empty'),
  ]);
  const encrypt = (...paths: string[]): Policy => ({ version: 1, rules: [{ type: 'trust', paths: ['/**'] }, { type: 'encrypt', paths }] });
  // A directory with a file below it, and a file: fine.
  t.deepEqual(selectFiles(root, encrypt('/app/model', '/app/readme')).encrypted.map((f) => f.path), ['/app/model/weights.bin', '/app/readme']);
  const cases: Array<[string, RegExp]> = [
    ['/app/pipe', /"\/app\/pipe" matches no file to encrypt: it is a fifo, which has no content to encrypt/],
    ['/app/dev', /it is a char, which has no content/],
    ['/app/missing.key', /there is nothing at that path in the image/],
    ['/app/empty/', /it is a directory with no regular file to encrypt/],
  ];
  for (const [path, message] of cases) t.throws(() => selectFiles(root, encrypt(path)), { code: 'E_CONFIG', message }, path);
  const overridden: Policy = { version: 1, rules: [{ type: 'encrypt', paths: ['/app/readme'] }, { type: 'trust', paths: ['/app/**'] }] };
  t.throws(() => selectFiles(root, overridden), { code: 'E_CONFIG', message: /a later policy rule classifies it otherwise/ });
  // A glob may match special files: they are listed for a warning, not encrypted, not an error.
  const sel = selectFiles(root, encrypt('/app/**'));
  t.deepEqual(sel.unencryptable, ['/app/dev', '/app/pipe']);
  t.deepEqual(sel.encrypted.map((f) => f.path), ['/app/model/weights.bin', '/app/readme']);
});
