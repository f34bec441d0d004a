/**
 * `cconv gramine sign`: signs a final `.manifest.sgx` as gramine-sgx-sign does (MRENCLAVE over its
 * exact bytes, SIGSTRUCT signed with a PEM key or an external command), and the text lines of an
 * enclave identity that the other signing commands share.
 */
import { gramineSign, resolveSigningDate, type EnclaveIdentity, type SignedFileResult } from '../../index.ts';
import type { CommandSpec } from '../command.ts';
import type { CommandGroup } from '../main.ts';
import { signerFrom, signerOptions, type SignerArgs } from '../options/signer.ts';

interface GramineSignArgs extends SignerArgs {
  manifest: string;
  libpal: string;
  output: string;
  gramineVersion: string;
}

/** Text lines describing an enclave identity (MRSIGNER only when present). */
export function identityLines(id: Omit<EnclaveIdentity, 'mrsigner'> & { mrsigner?: string }): string[] {
  const a = id.attributes;
  const hex32 = (n: number) => `0x${n.toString(16)}`;
  return [
    `MRENCLAVE:  ${id.mrenclave}`,
    ...(id.mrsigner !== undefined ? [`MRSIGNER:   ${id.mrsigner}`] : []),
    `ISVPRODID:  ${id.isvProdId}`,
    `ISVSVN:     ${id.isvSvn}`,
    `Debug:      ${id.debug ? 'yes (not for production)' : 'no'}`,
    `Date:       ${id.date}`,
    `Attributes: flags ${a.flags}, xfrm ${a.xfrm}, miscselect ${hex32(a.miscSelect)}`,
    `Masks:      flags ${a.flagsMask}, xfrm ${a.xfrmMask}, miscselect ${hex32(a.miscMask)}`,
  ];
}

/** The `gramine sign` command. */
export const gramineSignCommand: CommandSpec<GramineSignArgs, SignedFileResult> = {
  command: 'sign',
  describe: 'Sign a final .manifest.sgx (as gramine-sgx-sign) and write its SIGSTRUCT',
  builder: (y) =>
    signerOptions(y)
      .option('manifest', { type: 'string', demandOption: true, describe: 'the final .manifest.sgx, measured byte for byte as it is' })
      .option('libpal', { type: 'string', demandOption: true, describe: 'the SGX PAL of the Gramine version (…/gramine/sgx/libpal.so)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the SIGSTRUCT file to write (e.g. app.sig)' })
      .option('gramine-version', { type: 'string', default: '1.9', describe: 'Gramine version whose layout constants to use' }),
  stages: (args) => [
    { id: 'measure', title: 'Measuring the enclave' },
    { id: 'sign', title: 'Signing the SIGSTRUCT' },
    { id: 'write', title: `Writing ${args.output}` },
  ],
  run: async (args, report, io) => {
    const date = resolveSigningDate(args.date, io.env.SOURCE_DATE_EPOCH);
    const signer = await signerFrom(args, io);
    return gramineSign({
      manifestPath: args.manifest,
      libpalPath: args.libpal,
      gramineVersion: args.gramineVersion,
      date,
      signer,
      outputPath: args.output,
      report,
    });
  },
  human: (r) => [`Wrote ${r.output}`, ...identityLines(r)].join('\n'),
};

/** `cconv gramine ...`: Gramine-level tools. */
export const gramineCommand: CommandGroup = {
  command: 'gramine',
  describe: 'Gramine-level tools (sign a final manifest)',
  subcommands: [gramineSignCommand],
};
