/**
 * `cconv gramine sign`: signs a final `.manifest.sgx` as gramine-sgx-sign does (MRENCLAVE over its
 * exact bytes, SIGSTRUCT signed with a PEM key or an external command), and the text lines of an
 * enclave identity that the other signing commands share.
 */
import { gramineSign, resolveSigningDate, type EnclaveIdentity, type SignedFileResult } from '../../index.ts';
import type { CommandHandler } from '../main.ts';
import { signerFrom, type SignerArgs } from '../options/signer.ts';

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
export const gramineSignCommand: CommandHandler<GramineSignArgs, SignedFileResult> = {
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
