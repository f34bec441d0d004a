// createQuoteVerifier on quotes of the test platform (test PKI, insecureTestRoot): the TCB and
// debug policy, revocation, CRL issuers, and tampering, each named by the check that fails.
import test from 'ava';
import { createQuoteVerifier, parseAllowTcb } from '../../src/kbs/index.ts';
import { createTestPki } from '../helpers/kbs-pki.ts';
import { ENCLAVE, createTestPlatform } from '../helpers/kbs-quote.ts';

const NOW = Math.floor(Date.now() / 1000);
const pki = createTestPki({ now: NOW });
const platform = createTestPlatform(pki);
const quote = platform.quote(ENCLAVE, Buffer.alloc(64, 7));
const verifier = (o: { allowTcb?: string; allowDebug?: boolean } = {}) =>
  createQuoteVerifier({ testRootCaDer: pki.rootDer, insecureTestRoot: true, allowTcb: parseAllowTcb(o.allowTcb), allowDebug: o.allowDebug ?? false });

test('a good quote verifies with the enclave’s facts', (t) => {
  const v = verifier().verify(quote, pki.collateral, NOW);
  t.like(v, { ok: true, quote: { mrenclave: ENCLAVE.mrenclave, mrsigner: ENCLAVE.mrsigner, isvProdId: 7, isvSvn: 3, debug: false, tcbStatus: 'UpToDate', reportData: '07'.repeat(64) } });
});

test('the same quote against Intel’s real root is refused (its CRLs are not signed by Intel)', (t) => {
  t.like(createQuoteVerifier().verify(quote, pki.collateral, NOW), { ok: false, check: 'crl' });
});

test('TCB status: refused unless allowed; the allow-list takes only the statuses it names', (t) => {
  const collateral = pki.collateralWith({ tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] });
  t.like(verifier().verify(quote, collateral, NOW), { ok: false, check: 'tcb-status' });
  t.like(verifier({ allowTcb: 'ConfigurationNeeded' }).verify(quote, collateral, NOW), { ok: false, check: 'tcb-status' });
  t.like(verifier({ allowTcb: 'SWHardeningNeeded' }).verify(quote, collateral, NOW), { ok: true, quote: { tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] } });
  t.like(verifier({ allowTcb: 'OutOfDate' }).verify(quote, pki.collateralWith({ tcbStatus: 'Revoked' }), NOW), { ok: false, check: 'revoked' });
});

test('debug enclaves: refused by default; with allowDebug, accepted with the status computed as for any quote', (t) => {
  const debugQuote = platform.quote({ ...ENCLAVE, debug: true }, Buffer.alloc(64));
  t.like(verifier().verify(debugQuote, pki.collateral, NOW), { ok: false, check: 'debug' });
  t.like(verifier({ allowDebug: true }).verify(debugQuote, pki.collateral, NOW), { ok: true, quote: { debug: true, tcbStatus: 'UpToDate' } });
  const relaxed = pki.collateralWith({ tcbStatus: 'ConfigurationNeeded', advisoryIds: ['INTEL-SA-00289'] });
  t.like(verifier({ allowDebug: true }).verify(debugQuote, relaxed, NOW), { ok: false, check: 'tcb-status' });
  t.like(verifier({ allowDebug: true, allowTcb: 'ConfigurationNeeded' }).verify(debugQuote, relaxed, NOW), { ok: true, quote: { tcbStatus: 'ConfigurationNeeded', advisoryIds: ['INTEL-SA-00289'] } });
});

test('a revoked PCK certificate, and a PCK CRL from another CA, are refused', (t) => {
  t.like(verifier().verify(quote, pki.collateralWith({ revokePck: true }), NOW), { ok: false, check: 'revoked' });
  t.like(verifier().verify(quote, pki.collateralWith({ pckCrlByRoot: true }), NOW), { ok: false, check: 'crl' });
});

test('tampering is named: enclave report, QE report, QE identity, attributes', (t) => {
  const flip = (offset: number) => {
    const q = Buffer.from(quote);
    q[offset] = q[offset]! ^ 1;
    return q;
  };
  t.like(verifier().verify(flip(48 + 64), pki.collateral, NOW), { ok: false, check: 'quote-signature' }, 'MRENCLAVE');
  t.like(verifier().verify(flip(48 + 384 + 4 + 128 + 64), pki.collateral, NOW), { ok: false, check: 'qe-report' }, 'QE report MRENCLAVE');
  const qeIdentity = pki.collateral.qe_identity!.replace('"isvprodid":1', '"isvprodid":2');
  t.like(verifier().verify(quote, { ...pki.collateral, qe_identity: qeIdentity }, NOW), { ok: false, check: 'collateral-signature' });
  // Genuinely signed, but attributes Gramine refuses: not 64-bit; PROVISIONKEY.
  t.like(verifier().verify(platform.quote({ ...ENCLAVE, flags: 0x01n }, Buffer.alloc(64)), pki.collateral, NOW), { ok: false, check: 'enclave-attributes' });
  t.like(verifier().verify(platform.quote({ ...ENCLAVE, flags: 0x15n }, Buffer.alloc(64)), pki.collateral, NOW), { ok: false, check: 'enclave-attributes' });
});

test('collateral outside its window names collateral-expired', (t) => {
  t.like(verifier().verify(quote, pki.collateral, NOW + 40 * 86400), { ok: false, check: 'collateral-expired' });
  t.like(verifier().verify(quote, pki.collateral, NOW - 2 * 86400), { ok: false, check: 'collateral-expired' });
});
