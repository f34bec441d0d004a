// `cconv policy check`: exit 0 when the policy releases, 8 (E_POLICY_DENIED) when not, 2 when malformed.
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitStatus } from '../../src/cli/exit.ts';
import { azureSkrPolicy } from '../../src/encrypt/index.ts';
import { cli } from '../helpers/cli.ts';

const MAA = 'https://cconvtest.weu.attest.azure.net';
const ID = { mrenclave: '3c'.repeat(32), mrsigner: '4d'.repeat(32), isvProdId: 2, isvSvn: 9, debug: false };
const CLAIMS = { iss: MAA, 'x-ms-sgx-mrsigner': ID.mrsigner, 'x-ms-sgx-mrenclave': ID.mrenclave, 'x-ms-sgx-product-id': 2, 'x-ms-sgx-svn': 9, 'x-ms-sgx-is-debuggable': false };

async function files(claims: unknown, policy: unknown = azureSkrPolicy(ID, { maaEndpoint: MAA, bind: 'mrsigner' })) {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-clipolicy-'));
  await writeFile(join(dir, 'policy.json'), typeof policy === 'string' ? policy : JSON.stringify(policy));
  await writeFile(join(dir, 'claims.json'), typeof claims === 'string' ? claims : JSON.stringify(claims));
  return ['policy', 'check', '--policy', join(dir, 'policy.json'), '--claims', join(dir, 'claims.json')];
}

test('the status codes are documented in --help', async (t) => {
  const run = await cli(['--help']);
  t.regex(run.stdout, /8 release policy denies/);
  t.is(ExitStatus.policyDenied, 8);
});

test('allowed: exit 0 and the matching authority', async (t) => {
  const run = await cli(await files(CLAIMS));
  t.is(run.status, 0, run.stderr);
  t.is(run.stdout, `Allowed: anyOf[0]: authority ${MAA}: all conditions hold\n`);
  const json = await cli(['--json', ...(await files(CLAIMS))]);
  t.deepEqual(JSON.parse(json.stdout), { allowed: true, authority: MAA, reasons: [`anyOf[0]: authority ${MAA}: all conditions hold`] });
});

test('denied: exit 8 with E_POLICY_DENIED and the first failing condition', async (t) => {
  const run = await cli(await files({ ...CLAIMS, 'x-ms-sgx-svn': 8, 'x-ms-sgx-is-debuggable': true }));
  t.is(run.status, ExitStatus.policyDenied);
  t.regex(run.stderr, /^cconv: error E_POLICY_DENIED: the policy does not release the key: anyOf\[0\]\.allOf\[2\]: claim "x-ms-sgx-svn" greaterOrEquals 9: the token has 8$/m);
  const json = await cli(['--json', ...(await files({ ...CLAIMS, iss: 'https://evil.example' }))]);
  t.is(json.status, 8);
  const err = JSON.parse(json.stdout).error;
  t.is(err.code, 'E_POLICY_DENIED');
  t.is(err.exitStatus, 8);
  t.regex(err.message, /is not the token issuer https:\/\/evil\.example/);
});

test('an MAA token (JWT) is accepted as the claims file', async (t) => {
  const jwt = `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(CLAIMS)).toString('base64url')}.c2ln`;
  const run = await cli(await files(jwt));
  t.is(run.status, 0, run.stderr);
});

test('a malformed policy or claims file is E_CONFIG (exit 2); a missing file is E_IO (exit 5)', async (t) => {
  let run = await cli(await files(CLAIMS, '{"version":'));
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /E_CONFIG/);
  run = await cli(await files(CLAIMS, { version: '1.0.0', anyOf: [{ authority: MAA, allOf: [{ claim: 'x', like: 1 }] }] }));
  t.is(run.status, ExitStatus.usage);
  t.regex(run.stderr, /E_CONFIG: release policy anyOf\[0\]\.allOf\[0\]: unknown property "like"/);
  run = await cli(await files('[1,2]'));
  t.is(run.status, ExitStatus.usage);
  run = await cli(['policy', 'check', '--policy', '/nonexistent/p.json', '--claims', '/nonexistent/c.json']);
  t.is(run.status, ExitStatus.environment);
});
