/**
 * test/vectors must stay byte-identical to the golden vectors it was copied from (see its
 * PROVENANCE.md): every file index.json lists exists with the listed size and sha256, and no file
 * appears in the folder that index.json does not account for.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { VECTORS, vectorPath } from '../helpers/enclave-vectors.ts';

interface ListedFile {
  path: string;
  bytes: number;
  sha256: string;
}

interface Index {
  reference: { gramine_commit: string };
  /** Every file of the folder except index.json itself. */
  files: ListedFile[];
  /** The files of each vector (a subset of `files`). */
  vectors: Array<{ id: string; files: ListedFile[] }>;
  /** Files common to several vectors (paths only are checked here, see below). */
  shared_files: ListedFile[];
}

const INDEX = JSON.parse(readFileSync(vectorPath('index.json'), 'utf8')) as Index;
/** Files that are ours, not part of the copied set. */
const OURS = new Set(['PROVENANCE.md']);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [relative(VECTORS, join(dir, e.name)).split(sep).join('/')],
  );
}

function check(t: ExecutionContext, f: ListedFile): void {
  const buf = readFileSync(vectorPath(f.path));
  t.is(buf.length, f.bytes, `${f.path}: size`);
  t.is(createHash('sha256').update(buf).digest('hex'), f.sha256, `${f.path}: sha256`);
}

test('index.json is the index of Gramine commit ff71d7a and lists files', (t) => {
  t.is(INDEX.reference.gramine_commit, 'ff71d7afea730dffd56a97af39bb6a73ee6c7662');
  t.true(INDEX.files.length >= 60);
  t.true(INDEX.vectors.length >= 10);
});

test('every file index.json lists exists with the listed size and sha256', (t) => {
  for (const f of INDEX.files) check(t, f);
});

test("every vector's files exist with the listed size and sha256", (t) => {
  for (const v of INDEX.vectors) {
    t.true(v.files.length > 0, v.id);
    for (const f of v.files) check(t, f);
  }
});

test('shared_files name files that index.json lists', (t) => {
  // Their size and sha256 are not compared: in the copied index, the shared_files entry of
  // README.md gives an earlier size and hash than the README.md shipped (whose entry in `files`
  // is checked above). All other shared_files entries equal their entry in `files`.
  const listed = new Map(INDEX.files.map((f) => [f.path, f]));
  for (const f of INDEX.shared_files) {
    t.true(listed.has(f.path), f.path);
    if (f.path !== 'README.md') t.deepEqual(f, listed.get(f.path), f.path);
  }
});

test('the folder holds exactly the listed files, index.json and PROVENANCE.md', (t) => {
  const expected = [...INDEX.files.map((f) => f.path), 'index.json', ...OURS].sort();
  t.deepEqual(walk(VECTORS).sort(), expected);
});
