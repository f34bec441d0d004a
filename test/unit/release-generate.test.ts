// Release policies generated from an enclave identity: exact JSON/text, and the files written.
import test from 'ava';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressEvent } from '../../src/progress.ts';
import {
  azureSkrPolicy,
  evaluateSkrPolicy,
  marblerunPackages,
  normalizeMaaEndpoint,
  raTlsVerifierEnvFile,
  secretProvManifest,
  writeReleasePolicies,
  type ReleaseIdentity,
} from '../../src/encrypt/index.ts';

const MRE = '834c3e9b73abe796ac00287096d964c7c9eaba83fd0b55e5d6db92429a76521f';
const MRS = 'aac41f8a8d5958bef19af7f11179354318208642d9067d511aae7e7ee6fa0766';
const ID: ReleaseIdentity = { mrenclave: MRE.toUpperCase(), mrsigner: MRS, isvProdId: 12, isvSvn: 5, debug: false };
const MAA = 'https://myattest.weu.attest.azure.net';

test('SKR policy, bind=mrenclave: exact structure', (t) => {
  t.deepEqual(azureSkrPolicy(ID, { maaEndpoint: MAA, bind: 'mrenclave' }), {
    version: '1.0.0',
    anyOf: [
      {
        authority: MAA,
        allOf: [
          { claim: 'x-ms-sgx-mrenclave', equals: MRE },
          { claim: 'x-ms-sgx-is-debuggable', equals: false },
        ],
      },
    ],
  });
});

test('SKR policy, bind=mrsigner: exact structure (svn is a minimum)', (t) => {
  const p = azureSkrPolicy(ID, { maaEndpoint: `${MAA}/`, bind: 'mrsigner' });
  t.is(JSON.stringify(p), JSON.stringify({
    version: '1.0.0',
    anyOf: [
      {
        authority: MAA,
        allOf: [
          { claim: 'x-ms-sgx-mrsigner', equals: MRS },
          { claim: 'x-ms-sgx-product-id', equals: 12 },
          { claim: 'x-ms-sgx-svn', greaterOrEquals: 5 },
          { claim: 'x-ms-sgx-is-debuggable', equals: false },
        ],
      },
    ],
  }));
  // It releases to a later SVN of the same signer and product, not to an earlier one.
  const claims = { iss: MAA, 'x-ms-sgx-mrsigner': MRS, 'x-ms-sgx-product-id': 12, 'x-ms-sgx-svn': 6, 'x-ms-sgx-is-debuggable': false };
  t.true(evaluateSkrPolicy(p, claims).allowed);
  t.false(evaluateSkrPolicy(p, { ...claims, 'x-ms-sgx-svn': 4 }).allowed);
});

test('a debug identity gives is-debuggable equals true', (t) => {
  const p = azureSkrPolicy({ ...ID, debug: true }, { maaEndpoint: MAA });
  t.deepEqual(p.anyOf[0], { authority: MAA, allOf: [{ claim: 'x-ms-sgx-mrenclave', equals: MRE }, { claim: 'x-ms-sgx-is-debuggable', equals: true }] });
});

test('MAA endpoints are normalised; non-https or paths are E_USAGE', (t) => {
  t.is(normalizeMaaEndpoint('myattest.weu.attest.azure.net'), MAA);
  t.is(normalizeMaaEndpoint(`${MAA}/`), MAA);
  for (const bad of ['http://x.attest.azure.net', 'https://x.attest.azure.net/attest', 'https://u:p@x.net', 'https://x.net?a=1', 'ht tp://']) {
    t.throws(() => normalizeMaaEndpoint(bad), { code: 'E_USAGE' }, bad);
  }
});

test('bad identities and bindings are E_USAGE', (t) => {
  t.throws(() => azureSkrPolicy({ ...ID, mrenclave: 'abc' }, { maaEndpoint: MAA }), { code: 'E_USAGE' });
  t.throws(() => azureSkrPolicy({ ...ID, isvSvn: 65536 }, { maaEndpoint: MAA }), { code: 'E_USAGE' });
  t.throws(() => marblerunPackages(ID, { bind: 'mrx' as 'mrenclave' }), { code: 'E_USAGE' });
});

test('Marblerun package entries: exact output for both bindings', (t) => {
  t.deepEqual(marblerunPackages(ID), { Packages: { app: { UniqueID: MRE, Debug: false } } });
  t.is(
    JSON.stringify(marblerunPackages(ID, { bind: 'mrsigner', packageName: 'model-server' })),
    JSON.stringify({ Packages: { 'model-server': { SignerID: MRS, ProductID: 12, SecurityVersion: 5, Debug: false } } }),
  );
});

test('Gramine RA-TLS verifier env: exact text for both bindings, debug flag only for debug', (t) => {
  t.is(raTlsVerifierEnvFile(ID), `RA_TLS_MRENCLAVE=${MRE}\nRA_TLS_MRSIGNER=${MRS}\nRA_TLS_ISV_PROD_ID=12\nRA_TLS_ISV_SVN=5\n`);
  t.is(raTlsVerifierEnvFile({ ...ID, debug: true }, { bind: 'mrsigner' }), `RA_TLS_MRENCLAVE=any\nRA_TLS_MRSIGNER=${MRS}\nRA_TLS_ISV_PROD_ID=12\nRA_TLS_ISV_SVN=5\nRA_TLS_ALLOW_DEBUG_ENCLAVE_INSECURE=1\n`);
});

test('Gramine secret provisioning manifest fragment: exact object', (t) => {
  t.is(
    JSON.stringify(secretProvManifest({ keyName: 'app_key', caChainPath: '/etc/cconv/ca.crt', servers: ['kbs.example.com:4433', '10.0.0.1:443'] })),
    JSON.stringify({
      loader: {
        env: {
          LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc/libsecret_prov_attest.so',
          SECRET_PROVISION_CONSTRUCTOR: '1',
          SECRET_PROVISION_SET_KEY: 'app_key',
          SECRET_PROVISION_CA_CHAIN_PATH: '/etc/cconv/ca.crt',
          SECRET_PROVISION_SERVERS: 'kbs.example.com:4433;10.0.0.1:443',
        },
      },
      sgx: { remote_attestation: 'dcap' },
    }),
  );
  const f = secretProvManifest({ keyName: 'default', caChainPath: '/ca.crt', pkglibdir: '/opt/gramine', existingPreload: '/usr/lib/libjemalloc.so' });
  t.deepEqual(f.loader.env, {
    LD_PRELOAD: '/opt/gramine/runtime/glibc/libsecret_prov_attest.so:/usr/lib/libjemalloc.so',
    SECRET_PROVISION_CONSTRUCTOR: '1',
    SECRET_PROVISION_SET_KEY: 'default',
    SECRET_PROVISION_CA_CHAIN_PATH: '/ca.crt',
  });
  t.throws(() => secretProvManifest({ keyName: 'a b', caChainPath: '/ca.crt' }), { code: 'E_USAGE' });
  t.throws(() => secretProvManifest({ keyName: 'k', caChainPath: 'ca.crt' }), { code: 'E_USAGE' });
  t.throws(() => secretProvManifest({ keyName: 'k', caChainPath: '/ca.crt', servers: ['no-port'] }), { code: 'E_USAGE' });
});

test('writeReleasePolicies writes the three files deterministically and warns for debug', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'cconv-release-')), 'policies');
  const events: ProgressEvent[] = [];
  const r = await writeReleasePolicies(dir, { ...ID, debug: true }, { maaEndpoint: MAA, bind: 'mrsigner', report: (e) => events.push(e) });
  t.deepEqual(r.files, [join(dir, 'azure-skr-policy.json'), join(dir, 'marblerun-package.json'), join(dir, 'gramine-ra-tls-verifier.env')]);
  t.deepEqual((await readdir(dir)).sort(), ['azure-skr-policy.json', 'gramine-ra-tls-verifier.env', 'marblerun-package.json']);
  const skr = await readFile(r.files[0]!, 'utf8');
  t.is(skr, `${JSON.stringify(azureSkrPolicy({ ...ID, debug: true }, { maaEndpoint: MAA, bind: 'mrsigner' }), null, 2)}\n`);
  t.true(skr.startsWith('{\n  "version": "1.0.0",\n  "anyOf": [\n'));
  t.is(await readFile(r.files[1]!, 'utf8'), `${JSON.stringify(marblerunPackages({ ...ID, debug: true }, { bind: 'mrsigner' }), null, 2)}\n`);
  t.is(await readFile(r.files[2]!, 'utf8'), raTlsVerifierEnvFile({ ...ID, debug: true }, { bind: 'mrsigner' }));
  t.is((await stat(r.files[0]!)).mode & 0o777, 0o644);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0]!, /DEBUG build/);
  t.deepEqual(events, [{ type: 'log', level: 'warn', message: r.warnings[0]! }]);
  // Same inputs, same bytes.
  const before = await Promise.all(r.files.map((f) => readFile(f)));
  await writeReleasePolicies(dir, { ...ID, debug: true }, { maaEndpoint: MAA, bind: 'mrsigner' });
  t.deepEqual(await Promise.all(r.files.map((f) => readFile(f))), before);
});

test('without an MAA endpoint no SKR policy is written, with a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-release-'));
  const r = await writeReleasePolicies(dir, ID);
  t.deepEqual(await readdir(dir).then((l) => l.sort()), ['gramine-ra-tls-verifier.env', 'marblerun-package.json']);
  t.deepEqual(r.warnings, ['no MAA endpoint given (--maa-endpoint): the Azure Key Vault release policy was not written']);
});
