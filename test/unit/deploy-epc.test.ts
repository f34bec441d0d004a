/**
 * EPC sizing of the Deployment generator: enclave memory read from Gramine's own signed manifests
 * (golden vectors in test/vectors/sgx-sign, expected sizes from each case's vector.json), the
 * EDMM cap, overrides, both resource names, and the errors.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import {
  AKS_EPC_RESOURCE,
  EDMM_DEFAULT_EPC_MIB,
  enclaveMemoryFromManifest,
  epcRequestMiB,
  INTEL_ENCLAVE_RESOURCE,
  INTEL_EPC_RESOURCE,
  INTEL_PROVISION_RESOURCE,
  planDeployment,
  renderDeployment,
  type DeploymentInput,
  type DeployOptions,
  type EnclaveMemory,
} from '../../src/deploy/index.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const VECTORS = new URL('sgx-sign/', VECTORS_URL);
const CASES = ['a-minimal', 'b-debug-chroot-trusted', 'c-edmm', 'd-cpu-features-exinfo', 'f-multipage-manifest'];

interface Vector {
  outputs: { enclave_attr: { enclave_size: string; edmm_enable: boolean } };
}

const identity = { mrenclave: '1'.repeat(64), mrsigner: '2'.repeat(64), isvProdId: 0, isvSvn: 0, debug: false };

function input(enclave: EnclaveMemory, options: DeployOptions = {}): DeploymentInput {
  return { image: 'myacr.azurecr.io/app:1', digest: `sha256:${'c'.repeat(64)}`, identity, enclave, options };
}

/** The container's resources as parsed back from the YAML. */
function resources(yamlText: string): { limits: Record<string, unknown>; requests: Record<string, unknown> } {
  const doc = parse(yamlText.split('---\n')[0]!);
  return doc.spec.template.spec.containers[0].resources;
}

for (const name of CASES) {
  test(`vector ${name}: enclave memory and EPC request from Gramine's .manifest.sgx`, async (t) => {
    const vector = JSON.parse(await readFile(new URL(`${name}/vector.json`, VECTORS), 'utf8')) as Vector;
    const attr = vector.outputs.enclave_attr;
    const bytes = Number(BigInt(attr.enclave_size));
    const mem = enclaveMemoryFromManifest(await readFile(new URL(`${name}/app.manifest.sgx`, VECTORS)));
    t.deepEqual(mem, { enclaveSize: bytes, edmm: attr.edmm_enable });
    const fullMiB = bytes / (1024 * 1024);
    const expected = attr.edmm_enable ? Math.min(fullMiB, EDMM_DEFAULT_EPC_MIB) : fullMiB;
    t.is(epcRequestMiB(mem), expected);
    const res = resources(renderDeployment(input(mem)));
    t.deepEqual(res.limits, { [INTEL_EPC_RESOURCE]: `${expected}Mi` });
    t.deepEqual(res.requests, res.limits);
  });
}

test('the EDMM vector is capped below its enclave size (the figure is not the 4G maximum)', async (t) => {
  const mem = enclaveMemoryFromManifest(await readFile(new URL('c-edmm/app.manifest.sgx', VECTORS), 'utf8'));
  t.true(mem.edmm);
  t.is(epcRequestMiB(mem), EDMM_DEFAULT_EPC_MIB);
  t.is(epcRequestMiB({ ...mem, edmm: false }), 4096);
  const edmmWarning = (options: DeployOptions) => planDeployment(input(mem, options)).warnings.some((w) => w.startsWith('EDMM enclave'));
  t.true(edmmWarning({}));
  t.false(edmmWarning({ epcMiB: 512 }));
  t.false(planDeployment(input({ ...mem, edmm: false })).warnings.some((w) => w.startsWith('EDMM enclave')));
});

test('EPC sizes from size strings and byte counts, without and with EDMM', (t) => {
  const cases: Array<[EnclaveMemory, number]> = [
    [{ enclaveSize: '64M', edmm: false }, 64],
    [{ enclaveSize: '256M', edmm: false }, 256],
    [{ enclaveSize: '1G', edmm: false }, 1024],
    [{ enclaveSize: '16G', edmm: false }, 16384],
    [{ enclaveSize: '0x40000K', edmm: false }, 256],
    [{ enclaveSize: 1536 * 1024, edmm: false }, 2], // rounded up to whole MiB
    [{ enclaveSize: 1n, edmm: false }, 1],
    [{ enclaveSize: '128M', edmm: true }, 128], // below the cap: the enclave size
    [{ enclaveSize: '256M', edmm: true }, 256],
    [{ enclaveSize: '1024G', edmm: true }, EDMM_DEFAULT_EPC_MIB], // Gramine's EDMM default size
  ];
  for (const [mem, mib] of cases) t.is(epcRequestMiB(mem), mib, JSON.stringify(mem, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
});

test('epcMiB overrides the derived figure, for both resource kinds', (t) => {
  const mem: EnclaveMemory = { enclaveSize: '4G', edmm: true };
  t.deepEqual(resources(renderDeployment(input(mem, { epcMiB: 900 }))).limits, { [INTEL_EPC_RESOURCE]: '900Mi' });
  t.deepEqual(resources(renderDeployment(input(mem, { epcMiB: 900, epcResource: 'aks' }))).requests, { [AKS_EPC_RESOURCE]: 900 });
});

test("epcResource 'aks' writes an integer MiB under the AKS add-on's resource name", (t) => {
  const text = renderDeployment(input({ enclaveSize: '512M', edmm: false }, { epcResource: 'aks' }));
  t.true(text.includes(`${AKS_EPC_RESOURCE}: 512\n`));
  const res = resources(text);
  t.deepEqual(res.limits, { [AKS_EPC_RESOURCE]: 512 });
  t.deepEqual(res.requests, { [AKS_EPC_RESOURCE]: 512 });
});

test('cpu and memory are optional and set as requests = limits next to the EPC', (t) => {
  const res = resources(renderDeployment(input({ enclaveSize: '1G', edmm: false }, { cpu: '500m', memory: '2Gi' })));
  t.deepEqual(res.limits, { cpu: '500m', memory: '2Gi', [INTEL_EPC_RESOURCE]: '1024Mi' });
  t.deepEqual(res.requests, res.limits);
});

test("intelDeviceRequests asks Intel's plugin for the enclave device, and the provision device with in-proc quoting", (t) => {
  const mem: EnclaveMemory = { enclaveSize: '1G', edmm: false };
  t.deepEqual(resources(renderDeployment(input(mem, { intelDeviceRequests: true }))).limits, {
    [INTEL_EPC_RESOURCE]: '1024Mi',
    [INTEL_ENCLAVE_RESOURCE]: 1,
  });
  t.deepEqual(resources(renderDeployment(input(mem, { intelDeviceRequests: true, attestation: 'in-proc' }))).requests, {
    [INTEL_EPC_RESOURCE]: '1024Mi',
    [INTEL_ENCLAVE_RESOURCE]: 1,
    [INTEL_PROVISION_RESOURCE]: 1,
  });
});

test('bad enclave sizes are E_CONFIG; bad overrides and resource kinds are E_USAGE', (t) => {
  for (const enclaveSize of ['1g', 'lots', '', '-1M', 0, -5, 1.5, Number.NaN]) {
    t.throws(() => epcRequestMiB({ enclaveSize, edmm: false }), { code: 'E_CONFIG' }, String(enclaveSize));
  }
  t.throws(() => epcRequestMiB({ enclaveSize: '4096G', edmm: false }), { code: 'E_CONFIG' });
  t.throws(() => epcRequestMiB({ enclaveSize: '1G', edmm: 'yes' as unknown as boolean }), { code: 'E_CONFIG' });
  for (const epcMiB of [0, -1, 1.5, 2 ** 40]) {
    t.throws(() => epcRequestMiB({ enclaveSize: '1G', edmm: false }, epcMiB), { code: 'E_USAGE' }, String(epcMiB));
  }
  t.throws(() => renderDeployment(input({ enclaveSize: '1G', edmm: false }, { epcResource: 'azure' as 'aks' })), { code: 'E_USAGE' });
});

test('a manifest that is not TOML or has no [sgx] table is rejected', (t) => {
  t.throws(() => enclaveMemoryFromManifest('[loader]\nentrypoint = "x"\n'), { code: 'E_CONFIG' });
  t.throws(() => enclaveMemoryFromManifest('not toml ['), { code: 'E_MANIFEST_TEMPLATE' });
});
