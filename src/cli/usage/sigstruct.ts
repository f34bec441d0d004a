/** Usage of `cconv sigstruct view|export|import`; the commands themselves are in ../commands/sigstruct.ts. */
import type { SignatureEncoding } from '../../index.ts';
import type { CommandGroup } from '../main.ts';

const load = () => import('../commands/sigstruct.ts');

/** `cconv sigstruct ...`. */
export const sigstructUsage: CommandGroup = {
  command: 'sigstruct',
  describe: 'Show, check and two-step sign SGX SIGSTRUCTs',
  subcommands: [
    {
      command: 'view <file>',
      describe: 'Show every field of a SIGSTRUCT (.sig), MRENCLAVE and MRSIGNER',
      builder: (y) =>
        y
          .positional('file', { type: 'string', describe: 'SIGSTRUCT file (1808 bytes)' })
          .option('verify', { type: 'boolean', default: false, describe: 'check the key, the RSA signature and Q1/Q2' }),
      load: async () => (await load()).sigstructViewCommand,
    },
    {
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
      load: async () => (await load()).sigstructExportCommand,
    },
    {
      command: 'import',
      describe: 'Two-step signing, step 2: attach a verified signature and write the SIGSTRUCT',
      // The encodings come from the signer options, a module that imports the library: loaded when this is parsed.
      builder: async (y) => {
        const { ENCODINGS } = await import('../options/signer.ts');
        return y
          .option('unsigned', { type: 'string', demandOption: true, describe: 'the unsigned SIGSTRUCT from sigstruct export' })
          .option('signature', { type: 'string', demandOption: true, describe: 'signature of the signing data (384 bytes raw, or hex/base64 text)' })
          .option('pubkey', { type: 'string', demandOption: true, describe: 'PEM public key of the signer (RSA-3072, e=3)' })
          .option('signature-encoding', { choices: ENCODINGS, default: 'raw' as SignatureEncoding, describe: 'encoding of --signature' })
          .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the SIGSTRUCT file to write (e.g. app.sig)' });
      },
      load: async () => (await load()).sigstructImportCommand,
    },
  ],
};
