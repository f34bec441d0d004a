/**
 * Which Gramine a runtime image holds (its gramine-sgx script's version line, else the
 * graminelibos package), and the constants version cconv then uses: the image's own series,
 * E_CONFIG naming both versions when cconv has no constants for it, the user's --gramine-version
 * over both.
 */
import test from 'ava';
import type { CconvError } from '../../src/errors.ts';
import { chooseGramineVersion, detectGramineVersion, versionSeries } from '../../src/pipeline/index.ts';
import { fakeRootfs, file, symlink } from '../helpers/fake-rootfs.ts';

const script = (version: string) => `#!/usr/bin/env bash\nPAL_CMD=/x/sgx/loader\nif [ "$1" == "--version" ]; then\n    echo "Gramine ${version} (v${version})"\n    exit 0\nfi\n`;
const python = (version: string) => `'''Python support for Gramine'''\nimport os as _os\n\n__version__ = '${version}'\n`;

test('the script version line wins over the python package; links are followed inside the image', async (t) => {
  const rootfs = fakeRootfs([
    file('usr/libexec/gramine-sgx', script('1.9'), 0o755),
    symlink('usr/bin/gramine-sgx', '../libexec/gramine-sgx'),
    file('usr/lib/python3/dist-packages/graminelibos/__init__.py', python('1.8')),
  ]);
  t.deepEqual(await detectGramineVersion(rootfs), { version: '1.9', series: '1.9', from: '/usr/libexec/gramine-sgx' });
});

test('without the script, the python package says; with neither, nothing is detected', async (t) => {
  const rootfs = fakeRootfs([file('usr/local/lib/python3.10/site-packages/graminelibos/__init__.py', python('1.9post~UNRELEASED'))]);
  t.deepEqual(await detectGramineVersion(rootfs), { version: '1.9post~UNRELEASED', series: '1.9', from: '/usr/local/lib/python3.10/site-packages/graminelibos/__init__.py' });
  t.is(await detectGramineVersion(fakeRootfs([file('usr/bin/gramine-sgx', '#!/bin/sh\nexec true\n', 0o755)])), undefined);
});

test('versionSeries keeps major.minor', (t) => {
  t.is(versionSeries('1.9'), '1.9');
  t.is(versionSeries('1.10.2'), '1.10');
  t.is(versionSeries('v1.9'), undefined);
});

test('the constants version: the image series when cconv has it, E_CONFIG naming both otherwise, the user flag over both', async (t) => {
  t.is(await chooseGramineVersion({ version: '1.9', series: '1.9', from: '/usr/bin/gramine-sgx' }, undefined), '1.9');
  t.is(await chooseGramineVersion(undefined, undefined), '1.9');
  const err = await t.throwsAsync(chooseGramineVersion({ version: '1.8', series: '1.8', from: '/usr/bin/gramine-sgx' }, undefined), { code: 'E_CONFIG' });
  t.regex(err!.message, /holds Gramine 1\.8 \(\/usr\/bin\/gramine-sgx\).*constants for Gramine 1\.9 only/);
  t.regex((err as CconvError).hint!, /--gramine-version 1\.9/);
  t.is(await chooseGramineVersion({ version: '1.8', series: '1.8', from: '/usr/bin/gramine-sgx' }, '1.9'), '1.9');
});
