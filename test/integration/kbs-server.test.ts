// The key broker's secret-provisioning server end to end without SGX: a test PKI in place of
// Intel's (accepted only with insecureTestRoot), a test platform that quotes, and a test enclave
// client doing what Gramine's secret_prov_attest does, over real TLS on 127.0.0.1.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SecretKey } from '../../src/encrypt/keys.ts';
import { auditLine, createQuoteVerifier, startKbsServer, type AuditRecord, type KbsServer, type ReleaseDecision, type VerifiedEnclave } from '../../src/kbs/index.ts';
import type { ProgressEvent } from '../../src/progress.ts';
import { brokerTlsIdentity, raTlsCertificate, secretProvAttest, type RaTlsOptions } from '../helpers/kbs-enclave.ts';
import { createTestPki } from '../helpers/kbs-pki.ts';
import { ENCLAVE, createTestPlatform, type TestEnclave } from '../helpers/kbs-quote.ts';

const NOW = Math.floor(Date.now() / 1000);
const pki = createTestPki({ now: NOW });
const platform = createTestPlatform(pki);
const tlsId = brokerTlsIdentity(NOW);
const DATA_KEY = randomBytes(16);

interface Broker {
  server: KbsServer;
  audit: AuditRecord[];
  decided: VerifiedEnclave[];
  events: ProgressEvent[];
}

/** A broker that releases DATA_KEY to ENCLAVE's MRENCLAVE only. */
async function broker(o: { collateral?: unknown; decide?: (e: VerifiedEnclave) => ReleaseDecision; requestTimeoutMs?: number } = {}): Promise<Broker> {
  const audit: AuditRecord[] = [];
  const decided: VerifiedEnclave[] = [];
  const events: ProgressEvent[] = [];
  const verifier = createQuoteVerifier({ testRootCaDer: pki.rootDer, insecureTestRoot: true, report: (e) => events.push(e) });
  const server = await startKbsServer({
    cert: tlsId.certPem,
    key: tlsId.keyPem,
    verifier,
    collateral: () => o.collateral ?? pki.collateral,
    decide: (e) => {
      decided.push(e);
      if (o.decide) return o.decide(e);
      return e.mrenclave === ENCLAVE.mrenclave ? { release: new SecretKey(DATA_KEY), label: 'app/default' } : { refuse: `no key is sealed to MRENCLAVE ${e.mrenclave}` };
    },
    audit: (r) => audit.push(r),
    now: () => NOW,
    ...(o.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: o.requestTimeoutMs }),
  });
  return { server, audit, decided, events };
}

async function attest(b: Broker, enclave: TestEnclave = ENCLAVE, options: RaTlsOptions & { sendRequest?: boolean; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}) {
  const { certPem, keyPem } = raTlsCertificate(platform, enclave, options);
  const result = await secretProvAttest({ port: b.server.port, caPem: tlsId.caPem, certPem, keyPem, ...(options.sendRequest === undefined ? {} : { sendRequest: options.sendRequest }), ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}) });
  await waitFor(() => b.audit.length > 0);
  return result;
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('the right enclave gets exactly the data key, in Gramine’s response format, over TLS 1.3 and 1.2', async (t) => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const b = await broker();
    const r = await attest(b, ENCLAVE, { maxVersion });
    await b.server.close();
    t.is(r.error, undefined, maxVersion);
    t.deepEqual(r.received, Buffer.concat([Buffer.from('SECRET_PROVISION_RA_TLS_RESPONSE_V1:\0'), Buffer.of(0, 0, 0, 16), DATA_KEY]));
    t.deepEqual(r.secret, DATA_KEY);
    t.is(b.audit.length, 1);
    t.like(b.audit[0], { decision: 'release', verified: true, evidence: 'tcg-dice', mrenclave: ENCLAVE.mrenclave, mrsigner: ENCLAVE.mrsigner, isvProdId: 7, isvSvn: 3, debug: false, tcbStatus: 'UpToDate', keyLabel: 'app/default' });
    t.false(auditLine(b.audit[0]!).includes(DATA_KEY.toString('hex')), 'no key bytes in the audit line');
    t.false(auditLine(b.audit[0]!).includes(DATA_KEY.toString('base64')));
  }
});

test('a legacy-only certificate (Gramine < 1.8) is served too', async (t) => {
  const b = await broker();
  const r = await attest(b, ENCLAVE, { evidence: 'legacy' });
  await b.server.close();
  t.deepEqual(r.secret, DATA_KEY);
  t.like(b.audit[0], { decision: 'release', evidence: 'legacy' });
});

test('the test root is accepted only with a loud warning event', async (t) => {
  const b = await broker();
  await b.server.close();
  t.like(b.events[0], { type: 'log', level: 'warn' });
  t.regex((b.events[0] as { message: string }).message, /INSECURE.*TEST root CA/);
});

const refusals: Array<[string, TestEnclave, RaTlsOptions, Partial<AuditRecord>]> = [
  ['another MRENCLAVE', { ...ENCLAVE, mrenclave: 'ab'.repeat(32) }, {}, { stage: 'decision', verified: true, mrenclave: 'ab'.repeat(32) }],
  ['a debug enclave', { ...ENCLAVE, debug: true }, {}, { stage: 'quote', check: 'debug', verified: false, debug: true }],
  ['a report-data mismatch', ENCLAVE, { bindOtherKey: true }, { stage: 'report-data', verified: false, mrenclave: ENCLAVE.mrenclave }],
  ['a certificate with no quote', ENCLAVE, { evidence: 'none' }, { stage: 'evidence' }],
  ['claims without pubkey-hash', ENCLAVE, { evidence: 'tcg-dice', noPubkeyHash: true }, { stage: 'evidence' }],
];

for (const [what, enclave, options, expected] of refusals) {
  test(`refused, nothing sent, one audit line: ${what}`, async (t) => {
    const b = await broker();
    const r = await attest(b, enclave, options);
    await b.server.close();
    t.is(r.received.length, 0, 'not a byte was sent');
    t.is(r.secret, undefined);
    t.is(b.audit.length, 1);
    t.like(b.audit[0], { decision: 'refuse', ...expected });
    t.regex(b.audit[0]!.peer, /^127\.0\.0\.1:\d+$/);
    t.notThrows(() => JSON.parse(auditLine(b.audit[0]!)) as unknown);
  });
}

test('refused: an out-of-date TCB and expired collateral', async (t) => {
  const outdated = await broker({ collateral: pki.collateralWith({ tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00615'] }) });
  const r1 = await attest(outdated);
  await outdated.server.close();
  t.is(r1.received.length, 0);
  t.like(outdated.audit[0], { decision: 'refuse', stage: 'quote', check: 'tcb-status' });
  t.regex(outdated.audit[0]!.reason, /OutOfDate \(advisories INTEL-SA-00615\)/);
  const expired = await broker({ collateral: pki.collateralWith({ now: NOW - 60 * 86400 }) });
  const r2 = await attest(expired);
  await expired.server.close();
  t.is(r2.received.length, 0);
  t.like(expired.audit[0], { decision: 'refuse', check: 'collateral-expired' });
});

test('no client certificate: refused after the handshake, nothing sent', async (t) => {
  const b = await broker();
  const r = await secretProvAttest({ port: b.server.port, caPem: tlsId.caPem });
  await waitFor(() => b.audit.length > 0);
  await b.server.close();
  t.is(r.received.length, 0);
  t.like(b.audit[0], { decision: 'refuse', stage: 'certificate', reason: 'the client sent no certificate' });
});

test('a verified enclave that never sends its request gets nothing; decide ran first', async (t) => {
  const b = await broker({ requestTimeoutMs: 300 });
  const r = await attest(b, ENCLAVE, { sendRequest: false });
  await b.server.close();
  t.is(b.decided.length, 1, 'the quote was verified and decided on');
  t.is(r.received.length, 0, 'but without the request, not a byte was sent');
  t.like(b.audit[0], { decision: 'refuse', stage: 'request', verified: true });
});

test('a failed TLS handshake is refused and audited', async (t) => {
  const b = await broker();
  const { connect } = await import('node:net');
  await new Promise<void>((resolve) => {
    const s = connect(b.server.port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('error', () => {});
    s.on('close', () => resolve());
  });
  await waitFor(() => b.audit.length > 0);
  await b.server.close();
  t.is(b.audit.length, 1);
  t.like(b.audit[0], { decision: 'refuse', stage: 'tls' });
});

test('a wrong request gets nothing', async (t) => {
  const b = await broker();
  const { certPem, keyPem } = raTlsCertificate(platform, ENCLAVE);
  const { connect } = await import('node:tls');
  const received = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port: b.server.port, servername: 'localhost', ca: tlsId.caPem, cert: certPem, key: keyPem }, () => s.write('SECRET_PROVISION_RA_TLS_REQUEST_V2\0'));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
  await waitFor(() => b.audit.length > 0);
  await b.server.close();
  t.is(received.length, 0);
  t.like(b.audit[0], { decision: 'refuse', stage: 'request' });
});
