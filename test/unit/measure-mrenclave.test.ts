import test from 'ava';
import { createHash } from 'node:crypto';
import { computeMrenclave, measureLayout, parsePalElf, type Area } from '../../src/measure/index.ts';
import { parseManifestToml } from '../../src/measure/toml.ts';
import { caseFile, caseVector, constants, libpal, signCases } from '../helpers/measure-vectors.ts';

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

for (const c of signCases()) {
  test(`${c.case}: MRENCLAVE, attributes and ISV ids equal the reference`, async (t) => {
    const v = caseVector(c);
    const r = await computeMrenclave({ manifestSgx: caseFile(c, 'app.manifest.sgx'), libpal: libpal(), constants: await constants() });
    t.is(r.mrenclave, c.mrenclave);
    t.is(r.mrenclave, v.outputs.mrenclave);
    const a = v.outputs.attributes;
    t.deepEqual(
      [hex(r.attributes.flags), hex(r.attributes.xfrm), hex(r.attributes.flagsMask), hex(r.attributes.xfrmMask), hex(r.attributes.miscSelect), hex(r.attributes.miscMask)],
      [a.flags, a.xfrm, a.flags_mask, a.xfrm_mask, a.misc_select, a.misc_mask],
    );
    t.is(r.isvProdId, a.isv_prod_id);
    t.is(r.isvSvn, a.isv_svn);
    t.is(r.attributes.debug, v.outputs.sigstruct_view_tool_output.debug_enclave);
    t.deepEqual(
      [hex(r.settings.enclaveSize), r.settings.edmm, r.settings.maxThreads],
      [v.outputs.enclave_attr.enclave_size, v.outputs.enclave_attr.edmm_enable, v.outputs.enclave_attr.max_threads],
    );
    // Handing in the parsed document (as the build does) must not change a thing.
    const manifest = parseManifestToml(caseFile(c, 'app.manifest.sgx').toString('utf8'));
    const again = await computeMrenclave({ manifestSgx: caseFile(c, 'app.manifest.sgx'), manifest, libpal: libpal(), constants: await constants() });
    t.deepEqual(again, r);
  });

  test(`${c.case}: memory layout equals the reference's, with TCS/TLS contents and PAL segments`, async (t) => {
    const v = caseVector(c);
    const r = await computeMrenclave({ manifestSgx: caseFile(c, 'app.manifest.sgx'), libpal: libpal(), constants: await constants() });
    const ours = r.layout.map((a: Area) => ({ desc: a.desc, addr: hex(a.addr), size: hex(a.size), flags: hex(a.flags), measured: a.measured }));
    const ref = v.outputs.memory_layout.map((a: any) => ({ desc: a.desc, addr: a.addr, size: a.size, flags: a.flags, measured: a.measured }));
    t.deepEqual(ours, ref);
    for (const [i, a] of v.outputs.memory_layout.entries()) {
      const mine = r.layout[i]!;
      if (a.content_sha256 !== undefined) t.is(createHash('sha256').update(mine.content!).digest('hex'), a.content_sha256, a.desc);
      if (a.elf_load_segments !== undefined) {
        const elf = parsePalElf(libpal());
        t.is(hex(elf.entry), a.e_entry);
        t.deepEqual(
          elf.segments.map((s) => ({ p_offset: hex(s.offset), p_vaddr: hex(s.vaddr), p_filesz: hex(s.filesz), p_memsz: hex(s.memsz), p_flags: hex(s.flags) })),
          a.elf_load_segments,
        );
      }
    }
  });
}

test('the manifest area holds the manifest bytes plus one NUL, zero-padded', async (t) => {
  const c = signCases().find((x) => x.dir.startsWith('f-'))!;
  const bytes = caseFile(c, 'app.manifest.sgx');
  const r = await computeMrenclave({ manifestSgx: bytes, libpal: libpal(), constants: await constants() });
  const m = r.layout[0]!;
  t.is(m.desc, 'manifest');
  t.true(m.content!.subarray(0, bytes.length).equals(bytes));
  t.is(m.content!.length, bytes.length + 1);
  t.is(m.content![bytes.length], 0);
  t.true(m.size > 4096 * 2);
});

async function measureWith(manifest: string, pal: Buffer = libpal()) {
  return computeMrenclave({ manifestSgx: Buffer.from(manifest), libpal: pal, constants: await constants() });
}

test('a libpal that is not an x86-64 ELF64 shared object is E_ELF_INVALID', async (t) => {
  const good = libpal();
  const patched = (at: number, bytes: number[]) => {
    const b = Buffer.from(good);
    Buffer.from(bytes).copy(b, at);
    return b;
  };
  const bad = [
    Buffer.from('#!/bin/sh\necho not an elf\n'),
    good.subarray(0, 40),
    patched(4, [1]), // ELFCLASS32
    patched(5, [2]), // big-endian
    patched(16, [2, 0]), // ET_EXEC
    patched(18, [0xb7, 0]), // aarch64
    patched(32, [0xff, 0xff, 0xff, 0, 0, 0, 0, 0]), // e_phoff beyond the file
  ];
  for (const pal of bad) await t.throwsAsync(measureWith('sgx.enclave_size = "256M"\n', pal), { code: 'E_ELF_INVALID' });
});

test('bad sizes and enclaves too small are E_ENCLAVE_LAYOUT', async (t) => {
  await t.throwsAsync(measureWith('sgx.enclave_size = "256MB"\n'), { code: 'E_ENCLAVE_LAYOUT' });
  await t.throwsAsync(measureWith('sgx.enclave_size = "12M"\n'), { code: 'E_ENCLAVE_LAYOUT' });
  await t.throwsAsync(measureWith('sgx.enclave_size = "1M"\n'), { code: 'E_ENCLAVE_LAYOUT' });
  await t.throwsAsync(measureWith('sgx.enclave_size = "8M"\nsgx.max_threads = 64\n'), { code: 'E_ENCLAVE_LAYOUT' });
  await t.throwsAsync(measureWith('sgx.cpu_features.mpx = "unspecified"\n'), { code: 'E_MANIFEST_TEMPLATE' });
  await t.throwsAsync(measureWith('sgx.cpu_features.avx = "maybe"\n'), { code: 'E_MANIFEST_TEMPLATE' });
});

test('one changed manifest byte changes MRENCLAVE', async (t) => {
  const c = signCases()[0]!;
  const bytes = Buffer.from(caseFile(c, 'app.manifest.sgx'));
  bytes[bytes.length - 1] = 0x20; // trailing newline -> space: still valid TOML, same settings
  const r = await computeMrenclave({ manifestSgx: bytes, libpal: libpal(), constants: await constants() });
  t.not(r.mrenclave, c.mrenclave);
  t.is(r.mrenclave.length, 64);
});

test('batched EADD runs equal record-by-record hashing, also across the 4 GiB boundary', async (t) => {
  const P = 4096;
  const start = 2 ** 32 - 3 * P;
  const pages = 70000; // more than one 1 MiB batch of 64-byte records
  const layout = { enclaveSize: 2 ** 33, base: 0, heapMin: 0, heapMax: 0, areas: [{ desc: 'free' as const, addr: start, size: pages * P, flags: 0x207, measured: false }] };
  const naive = createHash('sha256');
  const rec = (name: string, fill: (b: Buffer) => void) => {
    const b = Buffer.alloc(64);
    b.write(name, 'latin1');
    fill(b);
    naive.update(b);
  };
  rec('ECREATE', (b) => {
    b.writeUInt32LE(4, 8);
    b.writeBigUInt64LE(2n ** 33n, 12);
  });
  for (let i = 0; i < pages; i++) {
    rec('EADD', (b) => {
      b.writeBigUInt64LE(BigInt(start + i * P), 8);
      b.writeBigUInt64LE(0x207n, 16);
    });
  }
  t.is(await measureLayout(layout, Buffer.alloc(0), P, 4 * P), naive.digest('hex'));
});
