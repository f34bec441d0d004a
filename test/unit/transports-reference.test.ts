import test from 'ava';
import { formatReference, parseReference } from '../../src/transports/reference.ts';
import type { ImageReference } from '../../src/transports/types.ts';

const D = `sha256:${'ab'.repeat(32)}`;

const valid: Array<[string, ImageReference, string]> = [
  ['oci:./layout', { transport: 'oci', dir: './layout' }, 'oci:./layout'],
  ['oci:/tmp/out:v1.0', { transport: 'oci', dir: '/tmp/out', tag: 'v1.0' }, 'oci:/tmp/out:v1.0'],
  ['oci:/tmp/a:b/layout', { transport: 'oci', dir: '/tmp/a:b/layout' }, 'oci:/tmp/a:b/layout'],
  ['oci:/tmp/a:b/layout:latest', { transport: 'oci', dir: '/tmp/a:b/layout', tag: 'latest' }, 'oci:/tmp/a:b/layout:latest'],
  ['oci:layout:1.0_rc+build', { transport: 'oci', dir: 'layout', tag: '1.0_rc+build' }, 'oci:layout:1.0_rc+build'],
  ['docker-archive:img.tar', { transport: 'docker-archive', file: 'img.tar' }, 'docker-archive:img.tar'],
  ['docker-archive:/x/img.tar:myapp', { transport: 'docker-archive', file: '/x/img.tar', tag: 'myapp:latest' }, 'docker-archive:/x/img.tar:myapp:latest'],
  ['docker-archive:img.tar:docker.io/library/myapp:2', { transport: 'docker-archive', file: 'img.tar', tag: 'myapp:2' }, 'docker-archive:img.tar:myapp:2'],
  ['docker-archive:img.tar:registry:5000/app:1', { transport: 'docker-archive', file: 'img.tar', tag: 'registry:5000/app:1' }, 'docker-archive:img.tar:registry:5000/app:1'],
  ['docker-daemon:myapp', { transport: 'docker-daemon', name: 'docker.io/library/myapp', tag: 'latest' }, 'docker-daemon:docker.io/library/myapp:latest'],
  [`docker-daemon:me/app@${D}`, { transport: 'docker-daemon', name: 'docker.io/me/app', digest: D } as ImageReference, `docker-daemon:docker.io/me/app@${D}`],
  ['myapp:latest', { transport: 'docker-daemon', name: 'docker.io/library/myapp', tag: 'latest' }, 'docker-daemon:docker.io/library/myapp:latest'],
  ['myapp', { transport: 'docker-daemon', name: 'docker.io/library/myapp', tag: 'latest' }, 'docker-daemon:docker.io/library/myapp:latest'],
  ['registry:5000/app:1', { transport: 'docker-daemon', name: 'registry:5000/app', tag: '1' }, 'docker-daemon:registry:5000/app:1'],
  ['localhost/app', { transport: 'docker-daemon', name: 'localhost/app', tag: 'latest' }, 'docker-daemon:localhost/app:latest'],
  ['docker:dind', { transport: 'docker-daemon', name: 'docker.io/library/docker', tag: 'dind' }, 'docker-daemon:docker.io/library/docker:dind'],
  ['docker://alpine', { transport: 'docker', registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }, 'docker://docker.io/library/alpine:latest'],
  ['docker://index.docker.io/me/app:1', { transport: 'docker', registry: 'docker.io', repository: 'me/app', tag: '1' }, 'docker://docker.io/me/app:1'],
  ['docker://ghcr.io/org/team/app:v2', { transport: 'docker', registry: 'ghcr.io', repository: 'org/team/app', tag: 'v2' }, 'docker://ghcr.io/org/team/app:v2'],
  ['docker://[::1]:5000/app', { transport: 'docker', registry: '[::1]:5000', repository: 'app', tag: 'latest' }, 'docker://[::1]:5000/app:latest'],
  [`docker://myreg.azurecr.io/app:1@${D}`, { transport: 'docker', registry: 'myreg.azurecr.io', repository: 'app', tag: '1', digest: D } as ImageReference, `docker://myreg.azurecr.io/app:1@${D}`],
  ['docker://a__b/c-d--e.f', { transport: 'docker', registry: 'docker.io', repository: 'a__b/c-d--e.f', tag: 'latest' }, 'docker://docker.io/a__b/c-d--e.f:latest'],
];
for (const [text, ref, canonical] of valid) {
  test(`parses ${text}`, (t) => {
    const parsed = parseReference(text);
    t.deepEqual(parsed, ref);
    t.is(formatReference(parsed), canonical);
    t.deepEqual(parseReference(canonical), parsed, 'canonical form round-trips');
  });
}

const invalid: Array<[string, RegExp]> = [
  ['', /empty/],
  ['my app', /whitespace/],
  ['MyApp', /repository names must be lowercase/],
  ['docker://Alpine', /lowercase/],
  ['app:', /invalid tag ""/],
  ['app:-bad', /invalid tag "-bad"/],
  [`app:${'t'.repeat(129)}`, /invalid tag/],
  ['app@sha256:abc', /not a sha256\/sha512 digest/],
  ['docker://', /empty name/],
  ['docker://reg.io/', /invalid path component ""/],
  ['docker://a//b', /invalid path component ""/],
  ['docker://-reg.io/app', /invalid path component "-reg.io"|invalid registry/],
  ['docker://app_/x', /invalid path component "app_"/],
  ['docker://reg.io:port/app', /invalid registry "reg.io:port"/],
  [`${'a'.repeat(64)}`, /image ID/],
  [`docker://reg.io/${'a/'.repeat(130)}b`, /longer than 255/],
  ['oci:', /missing directory/],
  ['oci::tag', /missing directory/],
  ['oci:dir:', /invalid tag ""/],
  ['oci:dir:bad tag', /whitespace/],
  ['oci:dir:-x', /invalid tag "-x"/],
  ['docker-archive:', /missing file/],
  ['docker-archive::app', /missing file/],
  [`docker-archive:img.tar:app@${D}`, /cannot have a digest/],
  ['docker-archive:img.tar:App', /lowercase/],
];
for (const [text, message] of invalid) {
  test(`rejects ${JSON.stringify(text.slice(0, 60))}`, (t) => {
    const err = t.throws(() => parseReference(text), { code: 'E_REF_INVALID', message });
    t.regex((err as { hint?: string }).hint ?? '', /oci:DIR\[:TAG\].*docker:\/\//);
  });
}
