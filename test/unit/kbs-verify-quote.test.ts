// `cconv kbs verify-quote` and createQuoteVerifier with the real Intel-signed quote of
// test/vectors/dcap/ (see its README for the facts asserted here).
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.ts';
import { createQuoteVerifier, parseAllowTcb } from '../../src/kbs/index.ts';

const dir = new URL('../vectors/dcap/', import.meta.url);
const QUOTE = new URL('sgx_quote.bin', dir).pathname;
const COLLATERAL = new URL('sgx_quote_collateral.json', dir).pathname;
const AT = 1751624924; // inside the collateral window (README)
const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const MRSIGNER = '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6';
const STATUS = 'ConfigurationAndSWHardeningNeeded';
const ADVISORIES = ['INTEL-SA-00289', 'INTEL-SA-00615'];
const verifyArgs = (...extra: string[]) => ['kbs', 'verify-quote', '--quote', QUOTE, '--collateral', COLLATERAL, ...extra];

let tmp = '';
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cconv-kbs-'));
});
test.after.always(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('the real quote verifies at the README time with its status allowed, with exactly the README facts', async (t) => {
  const run = await cli([...verifyArgs('--at', String(AT), '--allow-tcb', STATUS), '--json']);
  t.is(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout) as Record<string, unknown>;
  t.like(r, { valid: true, verifiedAt: AT, mrenclave: MRENCLAVE, mrsigner: MRSIGNER, isvProdId: 0, isvSvn: 0, tcbStatus: STATUS, debug: false });
  t.deepEqual(r.advisoryIds, ADVISORIES);
  t.is(r.attributes, '0500000000000000e700000000000000');
  t.is(r.reportData, Buffer.concat([Buffer.from('Hello, world!'), Buffer.alloc(64 - 13)]).toString('hex'));
  const human = await cli(verifyArgs('--at', String(AT), '--allow-tcb', STATUS));
  t.is(human.status, 0);
  t.regex(human.stdout, new RegExp(`^MRENCLAVE   ${MRENCLAVE}$`, 'm'));
  t.regex(human.stdout, new RegExp(`^MRSIGNER    ${MRSIGNER}$`, 'm'));
  t.regex(human.stdout, /^TCB status {2}ConfigurationAndSWHardeningNeeded \(advisories INTEL-SA-00289, INTEL-SA-00615\)$/m);
});

test('without the allow-list the quote is refused for its TCB status, exit 8', async (t) => {
  const run = await cli(verifyArgs('--at', String(AT)));
  t.is(run.status, 8);
  t.regex(run.stderr, /^cconv: error E_QUOTE_REJECTED: quote rejected by check tcb-status: TCB status ConfigurationAndSWHardeningNeeded \(advisories INTEL-SA-00289, INTEL-SA-00615\) is not accepted; accepted: UpToDate$/m);
  t.regex(run.stderr, /hint: .*--allow-tcb/);
  // Allowing a different relaxed status is not enough.
  const other = await cli(verifyArgs('--at', String(AT), '--allow-tcb', 'SWHardeningNeeded,ConfigurationNeeded'));
  t.is(other.status, 8);
  t.regex(other.stderr, /check tcb-status/);
});

test('one flipped byte at offset 100 fails the quote signature, exit 8', async (t) => {
  const quote = await readFile(QUOTE);
  quote[100] = quote[100]! ^ 0x01;
  const file = join(tmp, 'flipped.bin');
  await writeFile(file, quote);
  const run = await cli(['kbs', 'verify-quote', '--quote', file, '--collateral', COLLATERAL, '--at', String(AT), '--allow-tcb', STATUS, '--json']);
  t.is(run.status, 8);
  const err = (JSON.parse(run.stdout) as { error: { code: string; message: string; exitStatus: number } }).error;
  t.is(err.code, 'E_QUOTE_REJECTED');
  t.is(err.exitStatus, 8);
  t.is(err.message, 'quote rejected by check quote-signature: ISV enclave report signature is invalid');
});

test('a year later the collateral has expired, exit 8', async (t) => {
  const run = await cli(verifyArgs('--at', String(AT + 365 * 86400), '--allow-tcb', STATUS));
  t.is(run.status, 8);
  t.regex(run.stderr, /E_QUOTE_REJECTED: quote rejected by check collateral-expired: TCB info expired at 2025-07-19T10:56:11Z/);
});

test('before the collateral was issued it is not valid yet', async (t) => {
  const run = await cli(verifyArgs('--at', String(1750330571 - 86400), '--allow-tcb', STATUS));
  t.is(run.status, 8);
  t.regex(run.stderr, /check collateral-expired: TCB info is not valid yet/);
});

test('usage errors: unknown TCB status, Revoked, a bad --at, collateral that is not JSON', async (t) => {
  const unknown = await cli(verifyArgs('--at', String(AT), '--allow-tcb', 'Fine'));
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /E_USAGE: unknown or unacceptable TCB status "Fine"/);
  t.is((await cli(verifyArgs('--allow-tcb', 'Revoked'))).status, 2);
  t.is((await cli(verifyArgs('--at', '1.5'))).status, 2);
  const bad = join(tmp, 'bad.json');
  await writeFile(bad, '{');
  const run = await cli(['kbs', 'verify-quote', '--quote', QUOTE, '--collateral', bad]);
  t.is(run.status, 2);
  t.regex(run.stderr, /E_CONFIG/);
  t.is((await cli(['kbs', 'verify-quote', '--quote', join(tmp, 'missing'), '--collateral', COLLATERAL])).status, 5);
});

test('library: missing and tampered collateral name their check', async (t) => {
  const quote = await readFile(QUOTE);
  const collateral = JSON.parse(await readFile(COLLATERAL, 'utf8')) as Record<string, string>;
  const verifier = createQuoteVerifier({ allowTcb: parseAllowTcb(STATUS) });
  const ok = verifier.verify(quote, collateral, AT);
  t.true(ok.ok);
  const { tcb_info: _, ...withoutTcbInfo } = collateral;
  t.like(verifier.verify(quote, withoutTcbInfo, AT), { ok: false, check: 'collateral-format' });
  // A CRL signed by nobody we trust: flip a byte of the root CA CRL's signature.
  const crl = Buffer.from(collateral.root_ca_crl!, 'hex');
  crl[crl.length - 3] = crl[crl.length - 3]! ^ 0x01;
  t.like(verifier.verify(quote, { ...collateral, root_ca_crl: crl.toString('hex') }, AT), { ok: false, check: 'crl' });
  // The TCB info changed after Intel signed it.
  const tcbInfo = collateral.tcb_info!.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18');
  t.not(tcbInfo, collateral.tcb_info);
  t.like(verifier.verify(quote, { ...collateral, tcb_info: tcbInfo }, AT), { ok: false, check: 'collateral-signature' });
  t.like(verifier.verify(quote.subarray(0, 400), collateral, AT), { ok: false, check: 'quote-format' });
});

test('library: a test root is refused without insecureTestRoot', (t) => {
  t.throws(() => createQuoteVerifier({ testRootCaDer: Buffer.alloc(10) }), { code: 'E_USAGE' });
});
