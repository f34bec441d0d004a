/** Name sanitising (DNS-1035 labels), default names from repositories, image pinning, exposed ports. */
import test from 'ava';
import { parse } from 'yaml';
import { defaultName, exposedPorts, imageByDigest, renderDeployment, sanitizeName } from '../../src/deploy/index.ts';

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DIGEST = `sha256:${'9'.repeat(64)}`;

test('sanitizeName maps any text to a DNS-1035 label', (t) => {
  const cases: Array<[string, string]> = [
    ['web', 'web'],
    ['my_app.v2', 'my-app-v2'],
    ['My__App--X', 'my-app-x'],
    ['9lives', 'lives'],
    ['--x--', 'x'],
    ['123', 'app'],
    ['', 'app'],
    ['ÄÖÜ', 'app'],
    ['a'.repeat(70), 'a'.repeat(63)],
    [`${'a'.repeat(62)}_b`, 'a'.repeat(62)], // cut at 63 would end in '-': trimmed
  ];
  for (const [input, expected] of cases) {
    const got = sanitizeName(input);
    t.is(got, expected, input);
    t.true(DNS1035.test(got) && got.length <= 63, got);
    t.is(sanitizeName(got), got); // fixed point
  }
});

test('the default name is the sanitised last repository component', (t) => {
  t.is(defaultName('library/nginx'), 'nginx');
  t.is(defaultName('team/sub/my_service.api'), 'my-service-api');
  t.is(defaultName('42'), 'app');
  const yamlText = renderDeployment({
    image: 'registry.example.com:5000/team/ml__model.server:v1',
    digest: DIGEST,
    identity: { mrenclave: 'a'.repeat(64), mrsigner: 'b'.repeat(64), isvProdId: 0, isvSvn: 0, debug: false },
    enclave: { enclaveSize: '256M', edmm: false },
  });
  const dep = parse(yamlText);
  t.is(dep.metadata.name, 'ml-model-server');
  t.is(dep.spec.template.spec.containers[0].name, 'ml-model-server');
  t.is(dep.spec.template.spec.containers[0].image, `registry.example.com:5000/team/ml__model.server@${DIGEST}`);
});

test('imageByDigest drops the tag and keeps the registry port', (t) => {
  t.deepEqual(imageByDigest('localhost:5000/app:1', DIGEST), { ref: `localhost:5000/app@${DIGEST}`, repository: 'app' });
  t.deepEqual(imageByDigest(`localhost:5000/app@${DIGEST}`, DIGEST), { ref: `localhost:5000/app@${DIGEST}`, repository: 'app' });
});

test('exposedPorts parses, de-duplicates and sorts ExposedPorts', (t) => {
  t.deepEqual(exposedPorts(undefined), []);
  t.deepEqual(exposedPorts({}), []);
  t.deepEqual(exposedPorts({ ExposedPorts: { '443/TCP': {}, '443/tcp': {}, '9000/sctp': {}, '1': {} } }), [
    { port: 1, protocol: 'TCP', name: 'tcp-1' },
    { port: 443, protocol: 'TCP', name: 'tcp-443' },
    { port: 9000, protocol: 'SCTP', name: 'sctp-9000' },
  ]);
  for (const bad of ['0/tcp', '65536', 'http', '80/icmp', '']) {
    t.throws(() => exposedPorts({ ExposedPorts: { [bad]: {} } }), { code: 'E_CONFIG' }, bad);
  }
});
