import test from 'ava';
import { formatPlatform, parsePlatform, platformMatches, selectManifest } from '../../src/image/platform.ts';
import type { Descriptor, Digest, Platform } from '../../src/image/types.ts';

test('parsePlatform', (t) => {
  t.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  t.deepEqual(parsePlatform('Linux/ARM64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  for (const bad of ['linux', 'linux/', '/amd64', 'linux/amd64/v8/x', '', 'linux/amd 64']) {
    t.throws(() => parsePlatform(bad), { code: 'E_USAGE' }, bad);
  }
  t.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
});

test('platform matching normalises aliases and default variants', (t) => {
  const p = (s: string): Platform => parsePlatform(s);
  t.true(platformMatches(p('linux/amd64'), { os: 'linux', architecture: 'x86_64' }));
  t.true(platformMatches(p('linux/amd64'), { os: 'linux', architecture: 'amd64', variant: 'v3' }));
  t.true(platformMatches(p('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  t.true(platformMatches(p('linux/arm64/v8'), { os: 'linux', architecture: 'aarch64' }));
  t.false(platformMatches(p('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v9' }));
  t.false(platformMatches(p('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v6' }));
  t.false(platformMatches(p('linux/amd64'), { os: 'windows', architecture: 'amd64' }));
  t.false(platformMatches(p('linux/amd64'), undefined));
});

const entry = (n: number, platform?: Platform): Descriptor => {
  const d: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64)}` as Digest, size: 1 };
  if (platform) d.platform = platform;
  return d;
};
const index = {
  manifests: [
    entry(1, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(2, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry(3, { os: 'unknown', architecture: 'unknown' }),
    entry(4, { os: 'linux', architecture: 'amd64' }),
    entry(5, { os: 'linux', architecture: 'amd64' }),
    entry(6),
  ],
};

test('selectManifest picks the first match, default linux/amd64', (t) => {
  t.is(selectManifest(index).digest, entry(4).digest);
  t.is(selectManifest(index, parsePlatform('linux/arm64')).digest, entry(2).digest);
  t.is(selectManifest(index, parsePlatform('linux/arm/v7')).digest, entry(1).digest);
});

test('selectManifest lists the available platforms when none matches', (t) => {
  t.throws(() => selectManifest(index, parsePlatform('linux/s390x')), {
    code: 'E_PLATFORM_NOT_FOUND',
    message: 'no manifest for platform linux/s390x; available: linux/arm/v7, linux/arm64/v8, unknown/unknown, linux/amd64, (none)',
  });
  t.throws(() => selectManifest({ manifests: [] }), { code: 'E_PLATFORM_NOT_FOUND', message: /available: \(none\)/ });
});
