import test from 'ava';
import {
  buildSigstruct,
  buildUnsignedSigstruct,
  defaultSigstructDate,
  parseSigstruct,
  parseSigstructDate,
  sigstructSummary,
  sigstructToJson,
  signingData,
  SIGSTRUCT_SIZE,
  verifySigstruct,
} from '../../src/enclave/index.ts';
import { exactFieldValue, loadSignCases, requestOf, flipByte, type VectorField } from '../helpers/enclave-vectors.ts';

const cases = loadSignCases();

test('there are golden signing cases', (t) => {
  t.true(cases.length >= 5);
});

for (const c of cases) {
  test(`${c.name}: parse(app.sig) gives every field of vector.json`, (t) => {
    t.is(c.appSig.length, SIGSTRUCT_SIZE);
    t.is(c.appSig.toString('hex'), c.vector.outputs.sigstruct_hex);
    const json = sigstructToJson(parseSigstruct(c.appSig)) as unknown as Record<string, unknown>;
    const { date_raw_bytes_hex: rawDate, ...fields } = c.vector.outputs.sigstruct_fields as Record<string, unknown>;
    t.is(c.appSig.subarray(0x14, 0x18).toString('hex'), rawDate as string);
    for (const [name, f] of Object.entries(fields as Record<string, VectorField>)) {
      const ours = json[name];
      t.not(ours, undefined, name);
      if (f.format.endsWith('s')) t.is(ours, f.value, name);
      else if (f.format === '<Q') t.is(BigInt(ours as string), exactFieldValue(c, name), name);
      else t.is(ours, f.value, name);
    }
    t.is(json.mr_signer, c.mrsigner);
    t.is(json.mr_enclave, c.mrenclave);
  });

  test(`${c.name}: summary equals gramine-sgx-sigstruct-view output`, (t) => {
    t.deepEqual(
      sigstructSummary(parseSigstruct(c.appSig)) as unknown as Record<string, unknown>,
      c.vector.outputs.sigstruct_view_tool_output,
    );
  });

  test(`${c.name}: build(parse(app.sig)) is byte-identical; signingData matches`, (t) => {
    t.true(buildSigstruct(parseSigstruct(c.appSig)).equals(c.appSig));
    t.is(signingData(c.appSig).toString('hex'), c.vector.outputs.signed_data_hex);
  });

  test(`${c.name}: the unsigned SIGSTRUCT from the vector fields has the reference signing data`, (t) => {
    const unsigned = buildUnsignedSigstruct(requestOf(c));
    t.is(signingData(unsigned).toString('hex'), c.vector.outputs.signed_data_hex);
  });

  test(`${c.name}: verifySigstruct accepts app.sig and gives its MRSIGNER`, (t) => {
    t.is(verifySigstruct(c.appSig).mrsigner, c.mrsigner);
  });
}

const sample = cases[0]!.appSig;

test('the date is stored as BCD at 0x14 (day, month, le16 year)', (t) => {
  const req = requestOf(cases[0]!);
  const buf = buildUnsignedSigstruct({ ...req, date: parseSigstructDate('1999-12-31') });
  t.is(buf.subarray(0x14, 0x18).toString('hex'), '31129919');
  t.deepEqual(parseSigstruct(buf).date, { year: 1999, month: 12, day: 31 });
});

test('a binary-encoded date is rejected', async (t) => {
  const bad = Buffer.from(sample);
  bad.writeUInt16LE(2026, 0x16); // 0x07ea: not BCD
  t.throws(() => parseSigstruct(bad), { code: 'E_SIGSTRUCT_INVALID' });
});

test('wrong size, HEADER or HEADER2 is E_SIGSTRUCT_INVALID', (t) => {
  t.throws(() => parseSigstruct(sample.subarray(0, 1807)), { code: 'E_SIGSTRUCT_INVALID' });
  t.throws(() => signingData(Buffer.alloc(100)), { code: 'E_SIGSTRUCT_INVALID' });
  for (const off of [0x4, 0x18]) {
    t.throws(() => parseSigstruct(flipByte(sample, off)), { code: 'E_SIGSTRUCT_INVALID' });
  }
});

test('a flipped signed byte, a bad Q1 or a wrong exponent fails verifySigstruct', (t) => {
  t.throws(() => verifySigstruct(flipByte(sample, 0x400)), { code: 'E_SIGNATURE_INVALID' }); // ISVPRODID
  t.throws(() => verifySigstruct(flipByte(sample, 0x410)), { code: 'E_SIGNATURE_INVALID' }); // Q1
  const exp = Buffer.from(sample);
  exp.writeUInt32LE(65537, 0x200);
  t.throws(() => verifySigstruct(exp), { code: 'E_KEY_INVALID' });
});

test('request checks: MRENCLAVE, ISV ids, debug guard', (t) => {
  const req = requestOf(cases[0]!);
  t.throws(() => buildUnsignedSigstruct({ ...req, mrenclave: 'abc' }), { code: 'E_USAGE' });
  t.throws(() => buildUnsignedSigstruct({ ...req, isvSvn: 65536 }), { code: 'E_USAGE' });
  t.throws(() => buildUnsignedSigstruct({ ...req, isvProdId: -1 }), { code: 'E_USAGE' });
  t.throws(() => buildUnsignedSigstruct({ ...req, debug: true }), { code: 'E_USAGE' });
  t.is(buildUnsignedSigstruct({ ...req, debug: false }).length, SIGSTRUCT_SIZE);
});

test('parseSigstructDate accepts real dates only', (t) => {
  t.deepEqual(parseSigstructDate('2024-02-29'), { year: 2024, month: 2, day: 29 });
  for (const s of ['2023-02-29', '2026-13-01', '2026-1-1', '26-01-01', '2026-00-10', '0000-01-01']) {
    t.throws(() => parseSigstructDate(s), { code: 'E_USAGE' }, s);
  }
});

test('defaultSigstructDate: SOURCE_DATE_EPOCH in UTC, else the injected clock', (t) => {
  const clock = () => new Date(Date.UTC(2031, 6, 4, 23, 59, 59));
  // 1767225599 = 2025-12-31T23:59:59Z; 1767225600 = 2026-01-01T00:00:00Z
  t.deepEqual(defaultSigstructDate({ sourceDateEpoch: '1767225599', now: clock }), { year: 2025, month: 12, day: 31 });
  t.deepEqual(defaultSigstructDate({ sourceDateEpoch: '1767225600', now: clock }), { year: 2026, month: 1, day: 1 });
  t.deepEqual(defaultSigstructDate({ sourceDateEpoch: '', now: clock }), { year: 2031, month: 7, day: 4 });
  t.deepEqual(defaultSigstructDate({ now: clock }), { year: 2031, month: 7, day: 4 });
  t.throws(() => defaultSigstructDate({ sourceDateEpoch: '-5' }), { code: 'E_USAGE' });
  t.throws(() => defaultSigstructDate({ sourceDateEpoch: '1e9' }), { code: 'E_USAGE' });
});
