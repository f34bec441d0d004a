/**
 * The file-level signing operations behind `cconv gramine sign` and `cconv sigstruct view|export|
 * import`: measure a final `.manifest.sgx` exactly as it is, sign, write the outputs atomically,
 * and describe the result as a JSON-friendly EnclaveIdentity. No printing; progress goes to a
 * Reporter. Inputs and signers are set up with sign-setup.ts.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { CconvError, isCconvError } from '../errors.ts';
import { computeMrenclave, loadGramineConstants } from '../measure/index.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import { formatSigstructDate, type SigstructDate } from './date.ts';
import { decodeSignature, type SignatureEncoding } from './external-signer.ts';
import { signSigstruct, verifySigstruct, type SigstructRequest } from './sign.ts';
import type { Signer } from './signer.ts';
import { readInputFile } from './sign-setup.ts';
import { parseSigstruct, SGX_FLAGS_DEBUG, type Sigstruct } from './sigstruct.ts';
import { exportSigningData, importSignature } from './two-step.ts';
import { sigstructMrsigner, sigstructSummary, sigstructToJson, type SigstructJson, type SigstructSummary } from './view.ts';
import { atomicWriteFile } from '../files.ts';

/** SIGSTRUCT attributes, JSON-friendly: 64-bit values as lowercase `0x` hex, 32-bit ones as numbers. */
export interface IdentityAttributes {
  flags: string;
  xfrm: string;
  flagsMask: string;
  xfrmMask: string;
  miscSelect: number;
  miscMask: number;
}

/** Who an enclave is, as its SIGSTRUCT says. Measurements are 64 lowercase hex digits. */
export interface EnclaveIdentity {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  debug: boolean;
  /** SIGSTRUCT date, `YYYY-MM-DD`. */
  date: string;
  attributes: IdentityAttributes;
}

/** The identity an unsigned SIGSTRUCT already fixes (everything but MRSIGNER). */
export type UnsignedIdentity = Omit<EnclaveIdentity, 'mrsigner'>;

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The identity of a parsed SIGSTRUCT; MRSIGNER is sha256 of its MODULUS (meaningless when unsigned). */
export function enclaveIdentityOf(f: Sigstruct): EnclaveIdentity {
  const { mrenclave, ...rest } = unsignedIdentityOf(f);
  return { mrenclave, mrsigner: sigstructMrsigner(f), ...rest };
}

function unsignedIdentityOf(f: Sigstruct): UnsignedIdentity {
  return {
    mrenclave: f.enclaveHash.toString('hex'),
    isvProdId: f.isvProdId,
    isvSvn: f.isvSvn,
    debug: (f.attributeFlags & SGX_FLAGS_DEBUG) !== 0n,
    date: formatSigstructDate(f.date),
    attributes: identityAttributes({
      flags: f.attributeFlags,
      xfrm: f.attributeXfrm,
      flagsMask: f.attributeFlagsMask,
      xfrmMask: f.attributeXfrmMask,
      miscSelect: f.miscSelect,
      miscMask: f.miscMask,
    }),
  };
}

/** The JSON form of SIGSTRUCT attributes (64-bit values as `0x` hex strings). */
export function identityAttributes(a: { flags: bigint; xfrm: bigint; flagsMask: bigint; xfrmMask: bigint; miscSelect: number; miscMask: number }): IdentityAttributes {
  return { flags: hex(a.flags), xfrm: hex(a.xfrm), flagsMask: hex(a.flagsMask), xfrmMask: hex(a.xfrmMask), miscSelect: a.miscSelect, miscMask: a.miscMask };
}

/** The manifest to measure and the PAL to measure it with. */
export interface ManifestInputs {
  /** The final `.manifest.sgx`; its exact bytes are measured, never re-serialised. */
  manifestPath: string;
  /** The SGX PAL (`libpal.so`) of the Gramine version the manifest is for. */
  libpalPath: string;
  /** Gramine version whose constants to use (runtimes/gramine/<version>.json); default '1.9'. */
  gramineVersion?: string;
  date: SigstructDate;
  report?: Reporter;
}

/**
 * Measures a final manifest: MRENCLAVE and the SIGSTRUCT inputs. Errors: E_IO (inputs),
 * E_MANIFEST_TEMPLATE (bad TOML/values), E_ENCLAVE_LAYOUT, E_ELF_INVALID (libpal), E_CONFIG.
 */
export async function measureManifestFile(inputs: ManifestInputs): Promise<SigstructRequest> {
  const report = inputs.report ?? silentReporter;
  return runTask(report, 'measure', 'Measuring the enclave', async () => {
    const manifestSgx = await readInputFile(inputs.manifestPath, 'manifest');
    const libpal = await readInputFile(inputs.libpalPath, 'libpal');
    const constants = await loadGramineConstants(inputs.gramineVersion ?? '1.9');
    const m = await computeMrenclave({ manifestSgx, libpal, constants });
    const a = m.attributes;
    return {
      mrenclave: m.mrenclave,
      attributes: { flags: a.flags, xfrm: a.xfrm, xfrmMask: a.xfrmMask, flagsMask: a.flagsMask, miscSelect: a.miscSelect, miscMask: a.miscMask },
      isvProdId: m.isvProdId,
      isvSvn: m.isvSvn,
      date: inputs.date,
    };
  });
}

/** Options of gramineSign. */
export interface GramineSignOptions extends ManifestInputs {
  signer: Signer;
  /** Where the SIGSTRUCT goes (written atomically, mode 0644, replacing an existing file). */
  outputPath: string;
}

/** A written, signed SIGSTRUCT and the identity it gives the enclave. */
export interface SignedFileResult extends EnclaveIdentity {
  output: string;
}

/**
 * `gramine-sgx-sign` for a final manifest: measures it, signs the SIGSTRUCT (the signature is
 * verified against the signer's public key), writes it. Errors: those of measureManifestFile
 * and openSigner, E_SIGNER, E_SIGNATURE_INVALID, E_IO (output).
 */
export async function gramineSign(options: GramineSignOptions): Promise<SignedFileResult> {
  const report = options.report ?? silentReporter;
  const request = await measureManifestFile(options);
  const { sigstruct } = await runTask(report, 'sign', 'Signing the SIGSTRUCT', () => signSigstruct({ ...request, signer: options.signer }));
  await runTask(report, 'write', `Writing ${options.outputPath}`, () =>
    atomicWriteFile(options.outputPath, sigstruct, { mode: 0o644, overwrite: true }),
  );
  return { ...enclaveIdentityOf(parseSigstruct(sigstruct)), output: options.outputPath };
}

/** Options of exportSigningFiles. */
export interface ExportFilesOptions extends ManifestInputs {
  /** Where the 256 bytes to sign go. */
  signingDataPath: string;
  /** Where the unsigned SIGSTRUCT goes (keep it for importSignatureFiles). */
  unsignedPath: string;
}

/** What exportSigningFiles wrote. */
export interface ExportFilesResult extends UnsignedIdentity {
  signingData: string;
  unsigned: string;
  /** sha256 of the signing data, lowercase hex: the digest an HSM that signs digests needs. */
  signingDataSha256: string;
}

/**
 * Two-step signing, step 1: measures the manifest and writes the signing data and the unsigned
 * SIGSTRUCT (each atomically, mode 0644, replacing existing files). Errors: as
 * measureManifestFile, E_IO.
 */
export async function exportSigningFiles(options: ExportFilesOptions): Promise<ExportFilesResult> {
  const report = options.report ?? silentReporter;
  const request = await measureManifestFile(options);
  const out = await runTask(report, 'write', 'Writing the signing data', () =>
    exportSigningData(request, { signingData: options.signingDataPath, unsigned: options.unsignedPath, overwrite: true }),
  );
  return {
    ...unsignedIdentityOf(parseSigstruct(out.unsigned)),
    signingData: options.signingDataPath,
    unsigned: options.unsignedPath,
    signingDataSha256: createHash('sha256').update(out.signingData).digest('hex'),
  };
}

/** Options of importSignatureFiles. */
export interface ImportFilesOptions {
  unsignedPath: string;
  /** The RSASSA-PKCS1-v1_5 SHA-256 signature of the signing data, e.g. from `openssl dgst -sha256 -sign`. */
  signaturePath: string;
  /** PEM with the signer's public key (a private key PEM works too). */
  publicKeyPath: string;
  /** How the signature file is encoded; default 'raw' (384 bytes). */
  encoding?: SignatureEncoding;
  outputPath: string;
}

/**
 * Two-step signing, step 2: attaches the signature to the unsigned SIGSTRUCT after verifying it,
 * writes the result (atomically, mode 0644). Errors: E_IO, E_SIGSTRUCT_INVALID, E_KEY_INVALID,
 * E_SIGNATURE_INVALID (wrong signature, or a file that is not of `encoding`).
 */
export async function importSignatureFiles(options: ImportFilesOptions): Promise<SignedFileResult> {
  const unsigned = await readInputFile(options.unsignedPath, 'unsigned SIGSTRUCT');
  const raw = await readInputFile(options.signaturePath, 'signature');
  const pem = await readInputFile(options.publicKeyPath, 'public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new CconvError('E_KEY_INVALID', `${options.publicKeyPath} is not a PEM public key`, { cause: err });
  }
  let signature: Buffer;
  try {
    signature = decodeSignature(raw, options.encoding ?? 'raw', `signature file ${options.signaturePath}`);
  } catch (err) {
    if (!isCconvError(err, 'E_SIGNER')) throw err;
    throw new CconvError('E_SIGNATURE_INVALID', err.message, { hint: 'check --signature-encoding' });
  }
  const { sigstruct } = importSignature(unsigned, signature, key);
  await atomicWriteFile(options.outputPath, sigstruct, { mode: 0o644, overwrite: true });
  return { ...enclaveIdentityOf(parseSigstruct(sigstruct)), output: options.outputPath };
}

/**
 * What `cconv sigstruct view` shows: first the keys and values of `gramine-sgx-sigstruct-view
 * --verbose --output-format json` in its order, then whether the signature was verified, then
 * every field.
 */
export type SigstructView = SigstructSummary & { verified: boolean; fields: SigstructJson };

/**
 * Reads and decodes a SIGSTRUCT file; with `verify` also checks the key, the RSA signature and
 * Q1/Q2. Errors: E_IO, E_SIGSTRUCT_INVALID, and with `verify` E_SIGNATURE_INVALID (also for an
 * unsigned SIGSTRUCT) or E_KEY_INVALID (a key SGX does not accept).
 */
export async function viewSigstructFile(path: string, options: { verify?: boolean } = {}): Promise<SigstructView> {
  const bytes = await readInputFile(path, 'SIGSTRUCT');
  const f = parseSigstruct(bytes);
  if (options.verify === true) {
    if (f.exponent === 0 && f.modulus.every((b) => b === 0)) {
      throw new CconvError('E_SIGNATURE_INVALID', `SIGSTRUCT ${path} is not signed`, {
        hint: 'sign it (cconv sigstruct import) before verifying',
      });
    }
    verifySigstruct(bytes);
  }
  return { ...sigstructSummary(f), verified: options.verify === true, fields: sigstructToJson(f) };
}

