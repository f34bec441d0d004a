/**
 * `cconv sign IMAGE --output-dir DIR`: measure and sign the confidential version of an image, and
 * write the files Gramine loads: `app.manifest.sgx`, `app.sig` and the trusted argv file.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wrapIoError } from '../../errors.ts';
import { atomicWriteFile } from '../../files.ts';
import { resolveSigningDate, type EnclaveIdentity } from '../../index.ts';
import { signMeasured } from '../../pipeline/index.ts';
import type { CommandHandler } from '../main.ts';
import { withMeasuredImage, type EnclaveArgs } from '../options/enclave.ts';
import { limitsFrom, type LimitsArgs } from '../options/limits.ts';
import type { RegistryArgs } from '../options/registry.ts';
import { signerFrom, type SignerArgs } from '../options/signer.ts';
import { identityLines } from './gramine-sign.ts';

interface SignArgs extends EnclaveArgs, LimitsArgs, SignerArgs, RegistryArgs {
  image: string;
  outputDir: string;
  name: string;
}

/** Result of `cconv sign --json`. */
export interface SignResult extends EnclaveIdentity {
  image: string;
  manifestDigest: string;
  files: { manifest: string; sigstruct: string; argv?: string };
}

/** The sign command. */
export const signCommand: CommandHandler<SignArgs, SignResult> = {
  stages: () => [
    { id: 'flatten', title: 'Reading and hashing the image' },
    { id: 'measure', title: 'Measuring the enclave' },
    { id: 'sign', title: 'Signing the SIGSTRUCT' },
  ],
  run: async (args, report, io) => {
    limitsFrom(args); // a bad --max-* value is E_USAGE before the key is read (withMeasuredImage applies them)
    const date = resolveSigningDate(args.date, io.env.SOURCE_DATE_EPOCH);
    const signer = await signerFrom(args, io);
    return withMeasuredImage(args, report, io, async (measured, image) => {
      const { sigstruct, identity } = await signMeasured(measured, { signer, date });
      await mkdir(args.outputDir, { recursive: true }).catch((err: unknown) => {
        throw wrapIoError(err, `creating ${args.outputDir}`);
      });
      const files: SignResult['files'] = { manifest: join(args.outputDir, `${args.name}.manifest.sgx`), sigstruct: join(args.outputDir, `${args.name}.sig`) };
      await atomicWriteFile(files.manifest, measured.manifestSgx, { mode: 0o644, overwrite: true });
      await atomicWriteFile(files.sigstruct, sigstruct, { mode: 0o644, overwrite: true });
      const argv = measured.rendered.argvFile;
      if (argv !== undefined) {
        files.argv = join(args.outputDir, 'argv');
        await atomicWriteFile(files.argv, argv.content, { mode: 0o444, overwrite: true });
      }
      return { image: args.image, manifestDigest: image.manifestDigest, files, ...identity };
    });
  },
  human: (r) => [...identityLines(r), `Wrote ${r.files.manifest}, ${r.files.sigstruct}${r.files.argv ? `, ${r.files.argv}` : ''}`].join('\n'),
};
