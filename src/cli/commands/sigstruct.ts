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
import type { CommandSpec } from '../command.ts';
import type { CommandGroup } from '../main.ts';
import { identityLines } from './gramine-sign.ts';
import { ENCODINGS } from '../options/signer.ts';

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
export const sigstructViewCommand: CommandSpec<ViewArgs, SigstructView> = {
  command: 'view <file>',
  describe: 'Show every field of a SIGSTRUCT (.sig), MRENCLAVE and MRSIGNER',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'SIGSTRUCT file (1808 bytes)' })
      .option('verify', { type: 'boolean', default: false, describe: 'check the key, the RSA signature and Q1/Q2' }),
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
export const sigstructExportCommand: CommandSpec<ExportArgs, ExportFilesResult> = {
  command: 'export',
  describe: 'Two-step signing, step 1: write the bytes to sign and the unsigned SIGSTRUCT',
  builder: (y) =>
    y
      .option('manifest', { type: 'string', demandOption: true, describe: 'the final .manifest.sgx, measured byte for byte as it is' })
      .option('libpal', { type: 'string', demandOption: true, describe: 'the SGX PAL of the Gramine version (…/gramine/sgx/libpal.so)' })
      .option('date', { type: 'string', describe: 'SIGSTRUCT date YYYY-MM-DD', defaultDescription: 'day of $SOURCE_DATE_EPOCH, else today (UTC)' })
      .option('signing-data', { type: 'string', demandOption: true, describe: 'where to write the 256 bytes to sign (RSASSA-PKCS1-v1_5, SHA-256)' })
      .option('unsigned', { type: 'string', demandOption: true, describe: 'where to write the unsigned SIGSTRUCT (keep it for import)' })
      .option('gramine-version', { type: 'string', default: '1.9', describe: 'Gramine version whose layout constants to use' }),
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
export const sigstructImportCommand: CommandSpec<ImportArgs, SignedFileResult> = {
  command: 'import',
  describe: 'Two-step signing, step 2: attach a verified signature and write the SIGSTRUCT',
  builder: (y) =>
    y
      .option('unsigned', { type: 'string', demandOption: true, describe: 'the unsigned SIGSTRUCT from sigstruct export' })
      .option('signature', { type: 'string', demandOption: true, describe: 'signature of the signing data (384 bytes raw, or hex/base64 text)' })
      .option('pubkey', { type: 'string', demandOption: true, describe: 'PEM public key of the signer (RSA-3072, e=3)' })
      .option('signature-encoding', { choices: ENCODINGS, default: 'raw' as SignatureEncoding, describe: 'encoding of --signature' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the SIGSTRUCT file to write (e.g. app.sig)' }),
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

/** `cconv sigstruct ...`. */
export const sigstructCommand: CommandGroup = {
  command: 'sigstruct',
  describe: 'Show, check and two-step sign SGX SIGSTRUCTs',
  subcommands: [sigstructViewCommand, sigstructExportCommand, sigstructImportCommand],
};
