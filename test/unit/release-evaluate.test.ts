// Azure SKR policy evaluation: authorities, every operator, nesting, missing claims, malformed policies.
import test from 'ava';
import { evaluateSkrPolicy, lookupClaim, parseAttestationClaims } from '../../src/encrypt/index.ts';

const ISS = 'https://shared.weu.attest.azure.net';
const policy = (conds: unknown[], authority = ISS, group = 'allOf') => ({ version: '1.0.0', anyOf: [{ authority, [group]: conds }] });
const CLAIMS = {
  iss: ISS,
  'x-ms-sgx-mrenclave': 'ab'.repeat(32),
  'x-ms-sgx-svn': 3,
  'x-ms-sgx-is-debuggable': false,
  'x-ms-isolation-tee': { 'x-ms-attestation-type': 'sevsnpvm', 'x-ms-compliance-status': 'azure-compliant-cvm' },
};

test('operator table', (t) => {
  // [condition, expected]
  const table: Array<[Record<string, unknown>, boolean]> = [
    [{ claim: 'x-ms-sgx-mrenclave', equals: 'ab'.repeat(32) }, true],
    [{ claim: 'x-ms-sgx-mrenclave', equals: 'AB'.repeat(32) }, false], // exact string compare
    [{ claim: 'x-ms-sgx-svn', equals: 3 }, true],
    [{ claim: 'x-ms-sgx-svn', equals: '3' }, false], // types must match
    [{ claim: 'x-ms-sgx-is-debuggable', equals: false }, true],
    [{ claim: 'x-ms-sgx-is-debuggable', equals: true }, false],
    [{ claim: 'x-ms-sgx-svn', notEquals: 4 }, true],
    [{ claim: 'x-ms-sgx-svn', notEquals: 3 }, false],
    [{ claim: 'x-ms-sgx-svn', less: 4 }, true],
    [{ claim: 'x-ms-sgx-svn', less: 3 }, false],
    [{ claim: 'x-ms-sgx-svn', lessOrEquals: 3 }, true],
    [{ claim: 'x-ms-sgx-svn', lessOrEquals: 2 }, false],
    [{ claim: 'x-ms-sgx-svn', greater: 2 }, true],
    [{ claim: 'x-ms-sgx-svn', greater: 3 }, false],
    [{ claim: 'x-ms-sgx-svn', greaterOrEquals: 3 }, true],
    [{ claim: 'x-ms-sgx-svn', greaterOrEquals: 4 }, false],
    [{ claim: 'x-ms-sgx-svn', greater: '2' }, false], // number vs string: no ordering
    [{ claim: 'x-ms-sgx-mrenclave', exists: true }, true],
    [{ claim: 'x-ms-sgx-mrsigner', exists: true }, false],
    [{ claim: 'x-ms-sgx-mrsigner', exists: false }, true],
    [{ claim: 'x-ms-sgx-mrenclave', exists: false }, false],
    [{ claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sevsnpvm' }, true], // dot notation
    [{ claim: 'x-ms-isolation-tee.nope', exists: false }, true],
    [{ claim: 'x-ms-sgx-mrsigner', notEquals: 'x' }, false], // a missing claim fails
    [{ CLAIM: 'x-ms-sgx-svn', EQUALS: 3 }, true], // property names are case-insensitive
  ];
  for (const [cond, want] of table) {
    t.is(evaluateSkrPolicy(policy([cond]), CLAIMS).allowed, want, JSON.stringify(cond));
  }
});

test('allowed: names the authority', (t) => {
  const r = evaluateSkrPolicy(policy([{ claim: 'x-ms-sgx-svn', greaterOrEquals: 1 }]), CLAIMS);
  t.deepEqual(r, { allowed: true, authority: ISS, reasons: [`anyOf[0]: authority ${ISS}: all conditions hold`] });
});

test('denied: the first failing condition of allOf, with the token value', (t) => {
  const r = evaluateSkrPolicy(policy([{ claim: 'x-ms-sgx-svn', greaterOrEquals: 1 }, { claim: 'x-ms-sgx-svn', greaterOrEquals: 5 }, { claim: 'x-ms-sgx-mrsigner', exists: true }]), CLAIMS);
  t.deepEqual(r, { allowed: false, authority: null, reasons: ['anyOf[0].allOf[1]: claim "x-ms-sgx-svn" greaterOrEquals 5: the token has 3'] });
});

test('a missing claim is reported as missing', (t) => {
  const r = evaluateSkrPolicy(policy([{ claim: 'x-ms-sgx-mrsigner', equals: 'cd' }]), CLAIMS);
  t.deepEqual(r.reasons, ['anyOf[0].allOf[0]: claim "x-ms-sgx-mrsigner" equals "cd": the claim is missing']);
});

test('nested anyOf / allOf', (t) => {
  const nested = [
    { claim: 'x-ms-sgx-is-debuggable', equals: false },
    { anyOf: [{ claim: 'x-ms-sgx-mrenclave', equals: 'ff' }, { allOf: [{ claim: 'x-ms-sgx-svn', greater: 1 }, { claim: 'x-ms-sgx-svn', less: 10 }] }] },
  ];
  t.true(evaluateSkrPolicy(policy(nested), CLAIMS).allowed);
  const failing = [{ anyOf: [{ claim: 'x-ms-sgx-mrenclave', equals: 'ff' }, { allOf: [{ claim: 'x-ms-sgx-svn', greater: 5 }] }] }];
  t.deepEqual(evaluateSkrPolicy(policy(failing), CLAIMS).reasons, [
    'anyOf[0].allOf[0]: none of its 2 conditions holds; first: anyOf[0].allOf[0].anyOf[0]: claim "x-ms-sgx-mrenclave" equals "ff": the token has "abababababababababababababababababababababababababababababababab"',
  ]);
  // An authority whose conditions are an anyOf.
  t.true(evaluateSkrPolicy(policy([{ claim: 'x-ms-sgx-svn', equals: 9 }, { claim: 'x-ms-sgx-svn', equals: 3 }], ISS, 'anyOf'), CLAIMS).allowed);
});

test('authority must match the token issuer; any matching authority releases', (t) => {
  const cond = [{ claim: 'x-ms-sgx-svn', equals: 3 }];
  const other = 'https://other.eus.attest.azure.net';
  t.deepEqual(evaluateSkrPolicy(policy(cond, other), CLAIMS), {
    allowed: false,
    authority: null,
    reasons: [`anyOf[0]: authority ${other} is not the token issuer ${ISS}`],
  });
  t.true(evaluateSkrPolicy(policy(cond, 'SHARED.weu.attest.azure.net/'), CLAIMS).allowed); // bare host, case, trailing slash
  const two = { version: '1.0.0', anyOf: [{ authority: other, allOf: cond }, { authority: ISS, allOf: cond }] };
  t.deepEqual(evaluateSkrPolicy(two, CLAIMS).authority, ISS);
  const noIss = { ...CLAIMS } as Record<string, unknown>;
  delete noIss.iss;
  t.regex(evaluateSkrPolicy(policy(cond), noIss).reasons[0]!, /no "iss" claim/);
});

test('malformed policies are E_CONFIG', (t) => {
  const bads: unknown[] = [
    null,
    { anyOf: [] },
    { version: '2.0.0', anyOf: [{ authority: ISS, allOf: [{ claim: 'a', equals: 1 }] }] },
    { version: '1.0.0' },
    { version: '1.0.0', anyOf: [] },
    { version: '1.0.0', anyOf: [{ authority: ISS }] },
    { version: '1.0.0', anyOf: [{ authority: ISS, allOf: [{ claim: 'a', equals: 1 }], anyOf: [{ claim: 'a', equals: 1 }] }] },
    { version: '1.0.0', anyOf: [{ allOf: [{ claim: 'a', equals: 1 }] }] },
    policy([{ claim: 'a' }]),
    policy([{ claim: 'a', equals: 1, notEquals: 2 }]),
    policy([{ claim: 'a', equals: { x: 1 } }]),
    policy([{ claim: 'a', matches: 'x' }]),
    policy([{ claim: 'a', exists: 'yes' }]),
    policy([{ anyOf: [] }]),
    policy([{ anyOf: [{ claim: 'a', equals: 1 }], claim: 'a' }]),
    { version: '1.0.0', anyOf: [{ authority: ISS, allOf: [{ claim: 'a', equals: 1 }] }], extra: 1 },
  ];
  for (const b of bads) t.throws(() => evaluateSkrPolicy(b, CLAIMS), { code: 'E_CONFIG' }, JSON.stringify(b));
  t.throws(() => evaluateSkrPolicy(policy([{ claim: 'a', equals: 1 }]), [1]), { code: 'E_CONFIG' });
});

test('lookupClaim: exact name first, then dot notation', (t) => {
  t.is(lookupClaim({ 'a.b': 1, a: { b: 2 } }, 'a.b'), 1);
  t.is(lookupClaim({ a: { b: 2 } }, 'a.b'), 2);
  t.is(lookupClaim({ a: [{ b: 2 }] }, 'a.0.b'), undefined);
});

test('claims files: a JSON payload, a compact JWT, or {"token": JWT}', (t) => {
  const payload = { iss: ISS, 'x-ms-sgx-svn': 3 };
  const jwt = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;
  t.deepEqual(parseAttestationClaims(JSON.stringify(payload)), payload);
  t.deepEqual(parseAttestationClaims(`${jwt}\n`), payload);
  t.deepEqual(parseAttestationClaims(JSON.stringify({ token: jwt })), payload);
  for (const bad of ['[1]', 'not a token', '{"a":', `a.${Buffer.from('[1]').toString('base64url')}.b`]) {
    t.throws(() => parseAttestationClaims(bad), { code: 'E_CONFIG' }, bad);
  }
});
