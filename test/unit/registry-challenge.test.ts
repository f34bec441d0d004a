/** WWW-Authenticate parsing as registries send it (Docker Hub, ACR, distribution with htpasswd). */
import test from 'ava';
import { parseChallenges, pickChallenge } from '../../src/transports/registry/challenge.ts';

test('Docker Hub style bearer challenge', (t) => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
  t.deepEqual(parseChallenges(header), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
  ]);
});

test('scopes with several actions keep their commas; escaped quotes are unescaped', (t) => {
  const [c] = parseChallenges('Bearer realm="https://r.azurecr.io/oauth2/token", service="r.azurecr.io", scope="repository:a/b:pull,push", error="x\\"y"');
  t.is(c!.params.scope, 'repository:a/b:pull,push');
  t.is(c!.params.service, 'r.azurecr.io');
  t.is(c!.params.error, 'x"y');
});

test('basic challenge, unquoted values, case-insensitive scheme and names', (t) => {
  t.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  t.deepEqual(parseChallenges('BEARER Realm=https://x/token,Service=svc'), [{ scheme: 'bearer', params: { realm: 'https://x/token', service: 'svc' } }]);
});

test('several challenges in one header; bearer preferred over basic', (t) => {
  const all = parseChallenges('Basic realm="b", Bearer realm="https://t/token",service="s"');
  t.deepEqual(all.map((c) => c.scheme), ['basic', 'bearer']);
  t.is(pickChallenge(all)!.params.realm, 'https://t/token');
  t.is(pickChallenge(parseChallenges('Negotiate'))?.scheme, undefined);
  t.deepEqual(parseChallenges(''), []);
});
