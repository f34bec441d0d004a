// Reader against Gramine's own ciphertexts (test/vectors/pf): plaintext, metadata, negative cases.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { decryptToBuffer, readPfInfo } from '../../src/encrypt/index.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const PF = new URL('pf/', VECTORS_URL);
const INDEX = JSON.parse(readFileSync(new URL('index.json', PF), 'utf8'));
const KEY = readFileSync(new URL(INDEX.wrap_key_file, PF));
const file = (rel: string) => readFileSync(new URL(rel, PF));
const pathOf = (rel: string) => new URL(rel, PF).pathname;

/** The metadata dump fields of index.json / inspect/*.json that are checked here. */
interface MetadataDump {
  file_size_on_disk: number;
  file_id: string;
  major_version: number;
  minor_version: number;
  metadata_key_nonce: string;
  metadata_mac: string;
  feature_flags: number;
  sizeof_metadata_plaintext: number;
  file_path: string;
  file_size: number;
  root_mht_node_key: string;
  root_mht_node_mac: string;
}

interface Vector {
  name: string;
  path: string;
  plaintext: string;
  ciphertext: string;
  ciphertext_size: number;
  metadata: MetadataDump;
  metadata_dump: string;
  negative: {
    wrong_path: { path: string };
    wrong_key: { key: string };
    tampered: { flipped_byte_offset: number };
  };
}
const VECTORS: Vector[] = INDEX.vectors;
const CROSS: Array<{ plaintext: string; ciphertext: string; embedded_path: string; metadata: MetadataDump }> =
  INDEX.cross_tool_gramine_sgx_pf_crypt;

test('the index lists reference and gramine-sgx-pf-crypt vectors', (t) => {
  t.true(VECTORS.length >= 4);
  t.true(CROSS.length >= 2);
});

async function checkMetadata(t: import('ava').ExecutionContext, ct: string, md: MetadataDump): Promise<void> {
  const buf = file(ct);
  const { header, metadata } = await readPfInfo(pathOf(ct), { key: KEY });
  t.is(buf.length, md.file_size_on_disk);
  t.is(`0x${header.fileId.toString(16)}`, md.file_id);
  t.is(header.major, md.major_version);
  t.is(header.minor, md.minor_version);
  t.is(header.nonce.toString('hex'), md.metadata_key_nonce);
  t.is(header.mac.toString('hex'), md.metadata_mac);
  t.is(header.flags, md.feature_flags);
  t.is(header.encryptedOffset, md.sizeof_metadata_plaintext);
  t.is(metadata.path, md.file_path);
  t.is(metadata.size, md.file_size);
  t.is(metadata.rootKey.toString('hex'), md.root_mht_node_key);
  t.is(metadata.rootMac.toString('hex'), md.root_mht_node_mac);
}

for (const v of VECTORS) {
  test(`${v.name}: decrypts to plain/ with the path check`, async (t) => {
    const pt = await decryptToBuffer(pathOf(v.ciphertext), { key: KEY, path: v.path });
    t.deepEqual(pt, file(v.plaintext));
    t.is(file(v.ciphertext).length, v.ciphertext_size);
  });

  test(`${v.name}: decrypts from a Buffer in odd-sized chunks`, async (t) => {
    const ct = file(v.ciphertext);
    async function* chunks() {
      for (let o = 0; o < ct.length; o += 1000) yield ct.subarray(o, o + 1000);
    }
    t.deepEqual(await decryptToBuffer(chunks(), { key: KEY }), file(v.plaintext));
  });

  test(`${v.name}: metadata equals the inspect dump`, async (t) => {
    await checkMetadata(t, v.ciphertext, JSON.parse(file(v.metadata_dump).toString('utf8')));
  });

  test(`${v.name}: wrong path fails with E_PF_PATH (Invalid path)`, async (t) => {
    const err = await t.throwsAsync(decryptToBuffer(pathOf(v.ciphertext), { key: KEY, path: v.negative.wrong_path.path }), {
      code: 'E_PF_PATH',
    } as never);
    t.regex(err!.message, /Invalid path/);
  });

  test(`${v.name}: wrong key fails with E_PF_AUTH on the metadata node`, async (t) => {
    const key = Buffer.from(v.negative.wrong_key.key, 'hex');
    const err = await t.throwsAsync(decryptToBuffer(pathOf(v.ciphertext), { key, path: v.path }), { code: 'E_PF_AUTH' } as never);
    t.regex(err!.message, /metadata node/);
    t.false(err!.message.includes(v.negative.wrong_key.key)); // no key material in messages
  });

  test(`${v.name}: flipped byte fails with E_PF_AUTH naming the node`, async (t) => {
    const ct = Buffer.from(file(v.ciphertext));
    const off = v.negative.tampered.flipped_byte_offset;
    ct[off]! ^= 0x01;
    const err = await t.throwsAsync(decryptToBuffer(ct, { key: KEY, path: v.path }), { code: 'E_PF_AUTH' } as never);
    const node = Math.floor(off / 4096);
    t.regex(err!.message, node === 0 ? /metadata node \(node 0\)/ : new RegExp(`\\(node ${node}, offset ${node * 4096}\\)`));
  });
}

for (const c of CROSS) {
  test(`gramine-sgx-pf-crypt ${c.ciphertext}: decrypts with its embedded path, metadata matches`, async (t) => {
    const pt = await decryptToBuffer(pathOf(c.ciphertext), { key: KEY, path: c.embedded_path });
    t.deepEqual(pt, file(c.plaintext));
    await checkMetadata(t, c.ciphertext, c.metadata);
  });
}

const big = VECTORS.find((v) => v.ciphertext_size > 8192)!;

test('a file not made of whole nodes fails with E_PF_FORMAT', async (t) => {
  const ct = file(big.ciphertext);
  await t.throwsAsync(decryptToBuffer(ct.subarray(0, ct.length - 1), { key: KEY }), { code: 'E_PF_FORMAT' } as never);
  await t.throwsAsync(decryptToBuffer(Buffer.alloc(0), { key: KEY }), { code: 'E_PF_FORMAT' } as never);
});

test('a missing last node fails with E_PF_FORMAT (truncated)', async (t) => {
  const ct = file(big.ciphertext);
  const err = await t.throwsAsync(decryptToBuffer(ct.subarray(0, ct.length - 4096), { key: KEY }), { code: 'E_PF_FORMAT' } as never);
  t.regex(err!.message, /truncated/);
});

test('an extra node fails with E_PF_FORMAT', async (t) => {
  const ct = Buffer.concat([file(big.ciphertext), Buffer.alloc(4096)]);
  await t.throwsAsync(decryptToBuffer(ct, { key: KEY }), { code: 'E_PF_FORMAT' } as never);
});

test('a foreign file id, an unknown major version or a pending write fails with E_PF_FORMAT', async (t) => {
  const base = file(big.ciphertext);
  for (const [offset, value] of [
    [0, 0x00],
    [8, 3],
    [58, 1],
  ] as const) {
    const ct = Buffer.from(base);
    ct[offset] = value;
    await t.throwsAsync(decryptToBuffer(ct, { key: KEY }), { code: 'E_PF_FORMAT' } as never, `byte ${offset}`);
  }
});

test('a missing file fails with E_IO', async (t) => {
  await t.throwsAsync(decryptToBuffer('/nonexistent/x.pf', { key: KEY }), { code: 'E_IO' } as never);
});
