/**
 * `cconv verify IMAGE`: checks a confidential image against itself (SIGSTRUCT signature, MRENCLAVE
 * recomputed from its manifest and runtime, every trusted file's hash, identity labels), against
 * expected values, and optionally its sigstore attestations.
 */
import { parsePlatform } from '../../image/platform.ts';
import { verifyConfidentialImage, type VerifyImageResult } from '../../pipeline/index.ts';
import { loadSigstorePublicKey, verifyAttestations, type VerifyAttestationsResult } from '../../publish/index.ts';
import { parseReference } from '../../transports/index.ts';
import type { CommandHandler } from '../main.ts';
import { daemonFrom, openImage } from '../options/enclave.ts';
import { limitsFrom, type LimitsArgs } from '../options/limits.ts';
import { registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';
import { identityLines } from './gramine-sign.ts';

interface VerifyArgs extends RegistryArgs, LimitsArgs {
  image: string;
  platform?: string;
  tmpDir?: string;
  expectMrenclave?: string;
  expectMrsigner?: string;
  attestKey?: string;
}

/** Result of `cconv verify --json`. */
export interface VerifyResult extends VerifyImageResult {
  image: string;
  digest: string;
  attestations?: { verified: number; source: VerifyAttestationsResult['source'] };
}

/** The verify command. */
export const verifyCommand: CommandHandler<VerifyArgs, VerifyResult> = {
  stages: () => [
    { id: 'flatten', title: 'Reading and hashing the image' },
    { id: 'verify', title: 'Verifying the enclave' },
  ],
  run: async (args, report, io) => {
    const limits = limitsFrom(args);
    const registry = await registryOptionsFrom(args, io);
    const image = await openImage(args.image, args, report, { registry, daemon: daemonFrom(io.env, [parseReference(args.image)]) });
    try {
      const expect = { ...(args.expectMrenclave ? { mrenclave: args.expectMrenclave } : {}), ...(args.expectMrsigner ? { mrsigner: args.expectMrsigner } : {}) };
      const verified = await verifyConfidentialImage(image, { expect, limits, report });
      const result: VerifyResult = { image: args.image, digest: image.manifestDigest, ...verified };
      if (args.attestKey !== undefined) {
        const ref = parseReference(args.image);
        const attested = await verifyAttestations(ref, {
          trust: { kind: 'key', publicKey: await loadSigstorePublicKey(args.attestKey) },
          expect: { mrenclave: verified.identity.mrenclave, mrsigner: verified.identity.mrsigner },
          registry,
          report,
          ...(args.platform !== undefined ? { platform: parsePlatform(args.platform) } : {}),
        });
        result.attestations = { verified: attested.verified.length, source: attested.source };
      }
      return result;
    } finally {
      await image.close();
    }
  },
  human: (r) =>
    [
      `Verified ${r.image} (${r.digest})`,
      ...identityLines(r.identity),
      `Trusted files: ${r.trustedFiles} match the manifest; Gramine ${r.runtimeVersion}`,
      ...(r.attestations ? [`Attestations: ${r.attestations.verified} verified (${r.attestations.source})`] : []),
    ].join('\n'),
};
