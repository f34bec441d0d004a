/**
 * The generated Deployment and Service, parsed back with the `yaml` package and checked field by
 * field: image by digest, identity annotations (from Gramine's signed vectors), AESM wiring,
 * placement, key release, service ports, determinism and the atomic write.
 */
import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { enclaveIdentityOf, parseSigstruct } from '../../src/enclave/index.ts';
import { INTEL_EPC_RESOURCE, planDeployment, renderDeployment, writeDeployment, type DeploymentInput, type DeployOptions } from '../../src/deploy/index.ts';
import { VECTORS_URL } from '../helpers/enclave-vectors.ts';

const VECTORS = new URL('sgx-sign/', VECTORS_URL);
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const ID = { mrenclave: 'a'.repeat(64), mrsigner: 'b'.repeat(64), isvProdId: 3, isvSvn: 9, debug: false };

function input(options: DeployOptions = {}, extra: Partial<DeploymentInput> = {}): DeploymentInput {
  return { image: 'myacr.azurecr.io/shop/web:1.2', digest: DIGEST, identity: ID, enclave: { enclaveSize: '1G', edmm: false }, options, ...extra };
}

type Obj = any;
function docs(text: string): Obj[] {
  const all = parseAllDocuments(text);
  for (const d of all) if (d.errors.length > 0) throw d.errors[0];
  return all.map((d) => d.toJS());
}
const pod = (text: string): Obj => docs(text)[0].spec.template;
const container = (text: string): Obj => pod(text).spec.containers[0];

test('a Deployment with the image by digest, name and labels from the repository, replicas and selector', (t) => {
  const [dep, ...rest] = docs(renderDeployment(input()));
  t.is(rest.length, 0); // no ExposedPorts: no Service
  t.is(dep.apiVersion, 'apps/v1');
  t.is(dep.kind, 'Deployment');
  t.deepEqual(dep.metadata.labels, { 'app.kubernetes.io/name': 'web' });
  t.is(dep.metadata.name, 'web');
  t.false('namespace' in dep.metadata);
  t.is(dep.spec.replicas, 1);
  t.deepEqual(dep.spec.selector, { matchLabels: { 'app.kubernetes.io/name': 'web' } });
  t.deepEqual(dep.spec.template.metadata.labels, { 'app.kubernetes.io/name': 'web' });
  const c = dep.spec.template.spec.containers[0];
  t.is(dep.spec.template.spec.containers.length, 1);
  t.is(c.name, 'web');
  t.is(c.image, `myacr.azurecr.io/shop/web@${DIGEST}`);
  t.is(c.imagePullPolicy, 'IfNotPresent');
  t.false('command' in c);
  t.false('args' in c);
  t.deepEqual(c.securityContext, { privileged: false, allowPrivilegeEscalation: false });
});

test('the image reference in the input may carry the digest itself; Docker Hub names are qualified', (t) => {
  t.is(container(renderDeployment(input({}, { image: `myacr.azurecr.io/shop/web@${DIGEST}`, digest: undefined }))).image, `myacr.azurecr.io/shop/web@${DIGEST}`);
  t.is(container(renderDeployment(input({}, { image: `docker://myacr.azurecr.io/web:2@${DIGEST}` }))).image, `myacr.azurecr.io/web@${DIGEST}`);
  t.is(container(renderDeployment(input({}, { image: 'web' }))).image, `docker.io/library/web@${DIGEST}`);
  const other = `sha256:${'f'.repeat(64)}`;
  t.throws(() => renderDeployment(input({}, { image: `myacr.azurecr.io/web@${other}` })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({}, { digest: undefined })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({}, { digest: 'sha256:xyz' })), { code: 'E_DIGEST_INVALID' });
  t.throws(() => renderDeployment(input({}, { image: 'Bad Name' })), { code: 'E_REF_INVALID' });
});

for (const name of ['a-minimal', 'b-debug-chroot-trusted']) {
  test(`identity annotations on the Deployment and its pods (vector ${name})`, async (t) => {
    const view = JSON.parse(await readFile(new URL(`${name}/vector.json`, VECTORS), 'utf8')).outputs.sigstruct_view_tool_output;
    const identity = enclaveIdentityOf(parseSigstruct(await readFile(new URL(`${name}/app.sig`, VECTORS))));
    const [dep] = docs(renderDeployment(input({}, { identity })));
    const expected = {
      'cconv.dev/mrenclave': view.mr_enclave,
      'cconv.dev/mrsigner': view.mr_signer,
      'cconv.dev/isvprodid': String(view.isv_prod_id),
      'cconv.dev/isvsvn': String(view.isv_svn),
      'cconv.dev/debug': String(view.debug_enclave),
    };
    t.deepEqual(dep.metadata.annotations, expected);
    t.deepEqual(dep.spec.template.metadata.annotations, expected);
    const plan = planDeployment(input({}, { identity }));
    t.is(plan.warnings.some((w) => w.includes('DEBUG')), view.debug_enclave);
  });
}

test('aks-quote-helper (default) mounts the node AESM directory and sets SGX_AESM_ADDR', (t) => {
  const p = pod(renderDeployment(input()));
  const c = p.spec.containers[0];
  t.deepEqual(c.env, [{ name: 'SGX_AESM_ADDR', value: '1' }]);
  t.deepEqual(c.volumeMounts, [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }]);
  t.deepEqual(p.spec.volumes, [{ name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd', type: 'DirectoryOrCreate' } }]);
  t.deepEqual(c.resources.limits, { [INTEL_EPC_RESOURCE]: '1024Mi' });
});

test('in-proc attestation mounts nothing and warns', (t) => {
  const plan = planDeployment(input({ attestation: 'in-proc' }));
  const p = pod(renderDeployment(input({ attestation: 'in-proc' })));
  t.false('volumes' in p.spec);
  t.false('volumeMounts' in p.spec.containers[0]);
  t.false('env' in p.spec.containers[0]);
  t.true(plan.warnings.some((w) => w.startsWith('in-proc attestation')));
  t.throws(() => renderDeployment(input({ attestation: 'sidecar' as 'in-proc' })), { code: 'E_USAGE' });
});

test('placement: node pools as agentpool affinity, nodeSelector sorted, SGX taint toleration first', (t) => {
  const spec = pod(
    renderDeployment(
      input({
        nodePools: ['confpool2', 'confpool1', 'confpool1'],
        nodeSelector: { 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'Standard_DC4s_v3' },
        tolerateSgxTaint: true,
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'sgx', effect: 'NoExecute' }],
      }),
    ),
  ).spec;
  t.deepEqual(spec.nodeSelector, { 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'Standard_DC4s_v3' });
  t.deepEqual(spec.affinity, {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'agentpool', operator: 'In', values: ['confpool1', 'confpool2'] }] }],
      },
    },
  });
  t.deepEqual(spec.tolerations, [
    { key: INTEL_EPC_RESOURCE, operator: 'Exists', effect: 'NoSchedule' },
    { key: 'dedicated', operator: 'Equal', value: 'sgx', effect: 'NoExecute' },
  ]);
  const aks = pod(renderDeployment(input({ epcResource: 'aks', tolerateSgxTaint: true }))).spec;
  t.deepEqual(aks.tolerations, [{ key: 'kubernetes.azure.com/sgx_epc_mem_in_MiB', operator: 'Exists', effect: 'NoSchedule' }]);
  const none = pod(renderDeployment(input())).spec;
  for (const k of ['nodeSelector', 'affinity', 'tolerations']) t.false(k in none, k);
});

test('a Service for ExposedPorts, ports sorted and named; Service type and opt-out', (t) => {
  const config = { ExposedPorts: { '8443/tcp': {}, '53/udp': {}, '53/tcp': {}, '80': {} } };
  const [dep, svc] = docs(renderDeployment(input({ namespace: 'shop', serviceType: 'LoadBalancer' }, { config })));
  t.deepEqual(dep.spec.template.spec.containers[0].ports, [
    { name: 'tcp-53', containerPort: 53, protocol: 'TCP' },
    { name: 'udp-53', containerPort: 53, protocol: 'UDP' },
    { name: 'tcp-80', containerPort: 80, protocol: 'TCP' },
    { name: 'tcp-8443', containerPort: 8443, protocol: 'TCP' },
  ]);
  t.deepEqual(svc, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'web' } },
    spec: {
      type: 'LoadBalancer',
      selector: { 'app.kubernetes.io/name': 'web' },
      ports: [
        { name: 'tcp-53', port: 53, targetPort: 53, protocol: 'TCP' },
        { name: 'udp-53', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'tcp-80', port: 80, targetPort: 80, protocol: 'TCP' },
        { name: 'tcp-8443', port: 8443, targetPort: 8443, protocol: 'TCP' },
      ],
    },
  });
  t.is(dep.metadata.namespace, 'shop');
  t.is(docs(renderDeployment(input({ service: false }, { config }))).length, 1);
  t.throws(() => renderDeployment(input({ service: true })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({}, { config: { ExposedPorts: { '70000/tcp': {} } } })), { code: 'E_CONFIG' });
  t.throws(() => renderDeployment(input({}, { config: { ExposedPorts: { '80-90/tcp': {} } } })), { code: 'E_CONFIG' });
});

test('gramine-secret-prov: annotations, and SECRET_PROVISION_SERVERS only when passed from the pod', (t) => {
  const keyRelease = { kind: 'gramine-secret-prov' as const, servers: ['kbs.shop.svc:4433', '[fd00::1]:4433'] };
  const plain = pod(renderDeployment(input({ keyRelease })));
  t.is(plain.metadata.annotations['cconv.dev/key-release'], 'gramine-secret-prov');
  t.is(plain.metadata.annotations['cconv.dev/secret-provision-servers'], 'kbs.shop.svc:4433;[fd00::1]:4433');
  t.deepEqual(plain.spec.containers[0].env, [{ name: 'SGX_AESM_ADDR', value: '1' }]);
  const fromPod = planDeployment(input({ keyRelease: { ...keyRelease, serversFromPod: true } }));
  t.deepEqual((fromPod.documents[0] as Obj).spec.template.spec.containers[0].env, [
    { name: 'SGX_AESM_ADDR', value: '1' },
    { name: 'SECRET_PROVISION_SERVERS', value: 'kbs.shop.svc:4433;[fd00::1]:4433' },
  ]);
  t.true(fromPod.warnings.some((w) => w.includes('passthrough = true')));
  t.throws(() => renderDeployment(input({ keyRelease: { kind: 'gramine-secret-prov', servers: ['kbs'] } })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({ keyRelease: { kind: 'gramine-secret-prov', serversFromPod: true } })), { code: 'E_USAGE' });
});

test('azure-skr: MAA endpoint and key URL annotations, workload identity service account', (t) => {
  const keyRelease = { kind: 'azure-skr' as const, maaEndpoint: 'shopattest.weu.attest.azure.net/', keyUrl: 'https://shopkv.vault.azure.net/keys/data-key', serviceAccountName: 'web-sa' };
  const p = pod(renderDeployment(input({ keyRelease })));
  t.is(p.metadata.annotations['cconv.dev/key-release'], 'azure-skr');
  t.is(p.metadata.annotations['cconv.dev/maa-endpoint'], 'https://shopattest.weu.attest.azure.net');
  t.is(p.metadata.annotations['cconv.dev/skr-key-url'], 'https://shopkv.vault.azure.net/keys/data-key');
  t.is(p.spec.serviceAccountName, 'web-sa');
  t.deepEqual(p.metadata.labels, { 'app.kubernetes.io/name': 'web', 'azure.workload.identity/use': 'true' });
  const dep = docs(renderDeployment(input({ keyRelease })))[0];
  t.deepEqual(dep.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'web' });
  t.throws(() => renderDeployment(input({ keyRelease: { ...keyRelease, maaEndpoint: 'http://x.attest.azure.net' } })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({ keyRelease: { ...keyRelease, keyUrl: 'https://shopkv.vault.azure.net/secrets/x' } })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({ keyRelease: { ...keyRelease, serviceAccountName: 'Web SA' } })), { code: 'E_USAGE' });
});

test('pass-through env is sorted, kept as strings, and may not override cconv-set names; values never in errors', (t) => {
  const c = container(renderDeployment(input({ env: { ZED: 'on', APP_MODE: 'yes', PERM: '0755', EMPTY: '' } })));
  t.deepEqual(c.env, [
    { name: 'SGX_AESM_ADDR', value: '1' },
    { name: 'APP_MODE', value: 'yes' },
    { name: 'EMPTY', value: '' },
    { name: 'PERM', value: '0755' },
    { name: 'ZED', value: 'on' },
  ]);
  t.throws(() => renderDeployment(input({ env: { SGX_AESM_ADDR: '0' } })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({ env: { '1BAD': 'x' } })), { code: 'E_USAGE' });
  const err = t.throws(() => renderDeployment(input({ env: { TOKEN: 42 as unknown as string, SECRET: 's3cr3t-value', 'BAD NAME': 's3cr3t-value' } })));
  t.false(String(err?.message).includes('s3cr3t-value'));
});

test('YAML 1.1 readers (as Kubernetes) and YAML 1.2 readers see the same values', (t) => {
  const text = renderDeployment(input({ env: { A: 'yes', B: 'off', C: 'y', D: '1e3', E: '12:30', F: 'null', G: '~' }, keyRelease: { kind: 'azure-skr', maaEndpoint: 'a.attest.azure.net', serviceAccountName: 'sa' } }, { config: { ExposedPorts: { '80/tcp': {} } } }));
  const v12 = parseAllDocuments(text).map((d) => d.toJS());
  const v11 = parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS());
  t.deepEqual(v11, v12);
  t.is(v11[0].spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'B').value, 'off');
  t.false(/[&*]a\d/.test(text)); // no YAML anchors/aliases
});

test('output is deterministic and independent of option key order', (t) => {
  const a = renderDeployment(input({ nodeSelector: { b: '2', a: '1' }, env: { Y: '1', X: '2' } }, { config: { ExposedPorts: { '9090/tcp': {}, '80/tcp': {} } } }));
  const b = renderDeployment(input({ env: { X: '2', Y: '1' }, nodeSelector: { a: '1', b: '2' } }, { config: { ExposedPorts: { '80/tcp': {}, '9090/tcp': {} } } }));
  t.is(a, b);
  t.is(a, renderDeployment(input({ nodeSelector: { b: '2', a: '1' }, env: { Y: '1', X: '2' } }, { config: { ExposedPorts: { '9090/tcp': {}, '80/tcp': {} } } })));
  const [first, second] = a.split('---\n');
  t.is(parse(first!).kind, 'Deployment');
  t.is(parse(second!).kind, 'Service');
});

test('option validation: E_USAGE for names, namespace, replicas, quantities, selectors, tolerations', (t) => {
  const bad: DeployOptions[] = [
    { name: 'Web' },
    { name: '1web' },
    { name: 'a'.repeat(64) },
    { namespace: 'Shop' },
    { replicas: -1 },
    { replicas: 1.5 },
    { cpu: 'lots' },
    { memory: '1 Gi' },
    { nodeSelector: { 'bad key!': 'x' } },
    { nodeSelector: { ok: 'bad value!' } },
    { nodePools: ['pool one'] },
    { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] },
    { tolerations: [{ operator: 'Equal', value: 'v' }] },
    { tolerations: [{ key: 'k', operator: 'Like' as 'Equal' }] },
    { serviceType: 'External' as 'ClusterIP' },
    { imagePullSecrets: ['Not_Valid'] },
  ];
  for (const options of bad) t.throws(() => renderDeployment(input(options)), { code: 'E_USAGE' }, JSON.stringify(options));
  t.throws(() => renderDeployment(input({}, { identity: { ...ID, mrenclave: 'zz' } })), { code: 'E_USAGE' });
  t.throws(() => renderDeployment(input({}, { identity: { ...ID, isvSvn: 70000 } })), { code: 'E_USAGE' });
  t.is(docs(renderDeployment(input({ name: 'shop-web', replicas: 3, imagePullSecrets: ['acr-pull'] })))[0].spec.replicas, 3);
});

test('writeDeployment writes the rendered text atomically and replaces an existing file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cconv-deploy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'web.yaml');
  await writeFile(path, 'old');
  const plan = await writeDeployment(path, input());
  t.is(await readFile(path, 'utf8'), renderDeployment(input()));
  t.is(plan.epcMiB, 1024);
  t.deepEqual(await readdir(dir), ['web.yaml']);
  await t.throwsAsync(writeDeployment(join(dir, 'missing', 'x.yaml'), input()), { code: 'E_IO' });
  await t.throwsAsync(writeDeployment(join(dir, 'y.yaml'), input({ name: 'BAD' })), { code: 'E_USAGE' });
  t.deepEqual(await readdir(dir), ['web.yaml']);
});
