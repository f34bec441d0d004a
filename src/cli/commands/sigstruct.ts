/**
 * `cconv sigstruct view|export|import`: show and check a SIGSTRUCT, and two-step signing for keys
 * that never leave an HSM or an offline host (export the bytes to sign, import the signature).
 */
import {
  exportSigningFiles,
  importSignatureFiles,
  resolveSigningDate,
  viewSigstructFile,
  type ExportFilesResult,
  type SignatureEncoding,
  type SignedFileResult,
  type SigstructView,
} from '../../index.ts';
import type { CommandHandler } from '../main.ts';
import { identityLines } from './gramine-sign.ts';

interface ViewArgs {
  file: string;
  verify: boolean;
}

const LABELS: Array<[keyof SigstructView['fields'], string]> = [
  ['header', 'HEADER'], ['vendor', 'VENDOR'], ['date', 'DATE'], ['header2', 'HEADER2'],
  ['swdefined', 'SWDEFINED'], ['modulus', 'MODULUS'], ['exponent', 'EXPONENT'], ['signature', 'SIGNATURE'],
  ['misc_select', 'MISCSELECT'], ['misc_mask', 'MISCMASK'], ['attribute_flags', 'ATTRIBUTES.FLAGS'],
  ['attribute_xfrms', 'ATTRIBUTES.XFRM'], ['attribute_flags_mask', 'ATTRIBUTEMASK.FLAGS'],
  ['attribute_xfrm_mask', 'ATTRIBUTEMASK.XFRM'], ['enclave_hash', 'ENCLAVEHASH'], ['isv_prod_id', 'ISVPRODID'],
  ['isv_svn', 'ISVSVN'], ['q1', 'Q1'], ['q2', 'Q2'],
];
const HEX32 = new Set(['vendor', 'swdefined', 'misc_select', 'misc_mask']);

/** The field table of `sigstruct view`: one line per field, long numbers wrapped at 64 digits. */
function viewText(v: SigstructView): string {
  const width = 22;
  const lines: string[] = [];
  for (const [key, label] of LABELS) {
    const raw = v.fields[key];
    const text = HEX32.has(key) ? `0x${(raw as number).toString(16)}` : String(raw);
    const chunks = text.length > 64 ? (text.match(/.{1,64}/g) ?? []) : [text];
    chunks.forEach((c, i) => lines.push(`${(i === 0 ? label : '').padEnd(width)}${c}`));
  }
  const signed = v.fields.exponent !== 0;
  lines.push('', `${'MRSIGNER'.padEnd(width)}${signed ? v.mr_signer : '(not signed)'}`, `${'MRENCLAVE'.padEnd(width)}${v.mr_enclave}`);
  lines.push(`${'Debug enclave'.padEnd(width)}${v.debug_enclave ? 'yes' : 'no'}`);
  const check = v.verified ? 'verified (RSA signature, Q1, Q2)' : signed ? 'not checked (use --verify)' : 'none (an unsigned SIGSTRUCT)';
  lines.push(`${'Signature'.padEnd(width)}${check}`);
  return lines.join('\n');
}

/** `sigstruct view FILE`. */
export const sigstructViewCommand: CommandHandler<ViewArgs, SigstructView> = {
  run: (args) => viewSigstructFile(args.file, { verify: args.verify }),
  human: viewText,
};

interface ExportArgs {
  manifest: string;
  libpal: string;
  date?: string;
  signingData: string;
  unsigned: string;
  gramineVersion: string;
}

/** `sigstruct export`: step 1 of two-step signing. */
export const sigstructExportCommand: CommandHandler<ExportArgs, ExportFilesResult> = {
  stages: () => [
    { id: 'measure', title: 'Measuring the enclave' },
    { id: 'write', title: 'Writing the signing data' },
  ],
  run: (args, report, io) =>
    exportSigningFiles({
      manifestPath: args.manifest,
      libpalPath: args.libpal,
      gramineVersion: args.gramineVersion,
      date: resolveSigningDate(args.date, io.env.SOURCE_DATE_EPOCH),
      signingDataPath: args.signingData,
      unsignedPath: args.unsigned,
      report,
    }),
  human: (r) =>
    [
      `Wrote ${r.signingData} (bytes to sign, sha256 ${r.signingDataSha256})`,
      `Wrote ${r.unsigned} (unsigned SIGSTRUCT)`,
      ...identityLines(r),
      `Next: sign ${r.signingData} with RSASSA-PKCS1-v1_5 SHA-256, e.g. openssl dgst -sha256 -sign key.pem -out sig.bin ${r.signingData},`,
      `then: cconv sigstruct import --unsigned ${r.unsigned} --signature sig.bin --pubkey key.pub.pem --output app.sig`,
    ].join('\n'),
};

interface ImportArgs {
  unsigned: string;
  signature: string;
  pubkey: string;
  signatureEncoding: SignatureEncoding;
  output: string;
}

/** `sigstruct import`: step 2 of two-step signing. */
export const sigstructImportCommand: CommandHandler<ImportArgs, SignedFileResult> = {
  run: (args) =>
    importSignatureFiles({
      unsignedPath: args.unsigned,
      signaturePath: args.signature,
      publicKeyPath: args.pubkey,
      encoding: args.signatureEncoding,
      outputPath: args.output,
    }),
  human: (r) => [`Wrote ${r.output}`, ...identityLines(r)].join('\n'),
};
