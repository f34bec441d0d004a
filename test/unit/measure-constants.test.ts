import test from 'ava';
import { readFileSync } from 'node:fs';
import { loadGramineConstants, parseGramineConstants } from '../../src/measure/index.ts';
import { vecJson } from '../helpers/measure-vectors.ts';

const shipped = () => JSON.parse(readFileSync(new URL('../../runtimes/gramine/1.9.json', import.meta.url), 'utf8'));

test('runtimes/gramine/1.9.json carries every generated offset of the reference, exactly', async (t) => {
  const c = await loadGramineConstants('1.9');
  const ref = vecJson('gramine-offsets.json');
  t.is(c.commit, ref.gramine_commit);
  t.is(c.offsets.size, Object.keys(ref.offsets_hex).length);
  for (const [name, value] of Object.entries<string>(ref.offsets_hex)) t.is(c.big(name), BigInt(value), name);
  t.is(c.pkglibdir, vecJson('sgx-sign/index.json').pkglibdir);
  t.is(`file:${c.libosPath}`, vecJson('sgx-sign/a-minimal/vector.json').inputs.loader_entrypoint_uri);
});

test('invalid constants are E_CONFIG; a missing version file is E_IO', async (t) => {
  const breakIt = (f: (j: any) => void) => {
    const j = shipped();
    f(j);
    return () => parseGramineConstants(j);
  };
  t.throws(breakIt((j) => (j.format = 'x')), { code: 'E_CONFIG' } as any);
  t.throws(breakIt((j) => delete j.offsets.TCS_OENTRY), { code: 'E_CONFIG' } as any);
  t.throws(breakIt((j) => (j.offsets.PAGESIZE = '0x1001')), { code: 'E_CONFIG' } as any);
  t.throws(breakIt((j) => (j.offsets.SSA_FRAME_SIZE = 4096)), { code: 'E_CONFIG' } as any);
  t.throws(breakIt((j) => (j.pkglibdir = 'relative')), { code: 'E_CONFIG' } as any);
  t.throws(breakIt((j) => (j.manifestDefaults.maxThreads = -1)), { code: 'E_CONFIG' } as any);
  await t.throwsAsync(loadGramineConstants('0.0-missing'), { code: 'E_IO' });
  await t.throwsAsync(loadGramineConstants('../etc'), { code: 'E_CONFIG' });
  t.throws(() => parseGramineConstants(shipped()).big('NO_SUCH_CONSTANT'), { code: 'E_INTERNAL' } as any);
});
