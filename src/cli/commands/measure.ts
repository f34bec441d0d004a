/** `cconv measure IMAGE`: MRENCLAVE, attributes and file counts of the enclave, without signing. */
import { createHash } from 'node:crypto';
import { identityJson, type MeasuredIdentityJson } from '../../pipeline/index.ts';
import type { CommandHandler } from '../main.ts';
import { withMeasuredImage, type EnclaveArgs } from '../options/enclave.ts';
import type { LimitsArgs } from '../options/limits.ts';
import type { RegistryArgs } from '../options/registry.ts';

interface MeasureArgs extends EnclaveArgs, LimitsArgs, RegistryArgs {
  image: string;
}

/** Result of `cconv measure --json` (README.md). */
export interface MeasureResult {
  image: string;
  manifestDigest: string;
  runtime: { name: 'gramine'; version: string; source: string };
  identity: MeasuredIdentityJson;
  enclaveSize: string;
  maxThreads: number;
  files: { trusted: number; allowed: number; encrypted: number; excluded: number };
  /** sha256 (hex) of the exact .manifest.sgx bytes that MRENCLAVE covers. */
  manifestSha256: string;
}

/** The measure command. */
export const measureCommand: CommandHandler<MeasureArgs, MeasureResult> = {
  stages: () => [
    { id: 'flatten', title: 'Reading and hashing the image' },
    { id: 'measure', title: 'Measuring the enclave' },
  ],
  run: (args, report, io) =>
    withMeasuredImage(args, report, io, async (m, image, runtime) => ({
      image: args.image,
      manifestDigest: image.manifestDigest,
      runtime: { name: 'gramine', version: runtime.version, source: runtime.source },
      identity: identityJson(m.identity),
      enclaveSize: m.rendered.settings.enclaveSize,
      maxThreads: m.rendered.settings.maxThreads,
      files: { trusted: m.selection.trusted.length, allowed: m.selection.allowed.length, encrypted: m.selection.encrypted.length, excluded: m.selection.excluded },
      manifestSha256: createHash('sha256').update(m.manifestSgx).digest('hex'),
    })),
  human: (r) =>
    [
      `MRENCLAVE:  ${r.identity.mrenclave}`,
      `ISVPRODID:  ${r.identity.isvProdId}   ISVSVN: ${r.identity.isvSvn}`,
      `Debug:      ${r.identity.debug ? 'YES (insecure: the host can read enclave memory)' : 'no'}`,
      `Enclave:    ${r.enclaveSize}, ${r.maxThreads} threads; attributes flags=${r.identity.attributes.flags} xfrm=${r.identity.attributes.xfrm}`,
      `Files:      ${r.files.trusted} trusted, ${r.files.allowed} allowed, ${r.files.encrypted} encrypted, ${r.files.excluded} excluded`,
      `Runtime:    Gramine ${r.runtime.version} (${r.runtime.source})`,
    ].join('\n'),
};
