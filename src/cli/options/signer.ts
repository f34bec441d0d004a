/**
 * Signer options shared by the commands that sign an enclave (`gramine sign`, `sign`, `build`,
 * `sigstruct export` takes only --date): a PEM key (passphrase from stdin or the environment,
 * never the command line) or an external command with its public key.
 */
import { homedir } from 'node:os';
import type { Argv } from 'yargs';
import {
  CconvError,
  defaultSigningKeyPath,
  isCconvError,
  openSigner,
  type SignatureEncoding,
  type SignerChoice,
} from '../../index.ts';
import type { Signer } from '../../enclave/index.ts';
import type { CliIo } from '../command.ts';

/** Choices of the signature-encoding options. */
export const ENCODINGS: SignatureEncoding[] = ['raw', 'hex', 'base64'];

/** Parsed signer options. */
export interface SignerArgs {
  key?: string;
  signerCmd?: string;
  signerPubkey?: string;
  signerEncoding: SignatureEncoding;
  passphraseStdin?: boolean;
  date?: string;
}

/** Adds the signer options and --date. */
export function signerOptions(y: Argv): Argv {
  return y
    .option('key', { type: 'string', describe: 'PEM private key, RSA-3072 with e=3', defaultDescription: '$XDG_CONFIG_HOME/cconv/enclave-key.pem (see cconv keygen)' })
    .option('passphrase-stdin', { type: 'boolean', describe: 'read the passphrase of an encrypted --key from stdin (else $CCONV_SIGNING_KEY_PASSPHRASE)' })
    .option('signer-cmd', { type: 'string', describe: 'sign with this command instead of a key: gets the signing data on stdin (or in the file {in}), prints the signature' })
    .option('signer-pubkey', { type: 'string', describe: 'PEM public key of --signer-cmd' })
    .option('signer-encoding', { choices: ENCODINGS, default: 'raw' as SignatureEncoding, describe: 'how --signer-cmd prints the signature' })
    .option('date', { type: 'string', describe: 'SIGSTRUCT date YYYY-MM-DD', defaultDescription: 'day of $SOURCE_DATE_EPOCH, else today (UTC)' })
    .conflicts('key', 'signer-cmd')
    .conflicts('passphrase-stdin', 'signer-cmd')
    .implies('signer-cmd', 'signer-pubkey')
    .implies('signer-pubkey', 'signer-cmd');
}

/**
 * Splits a command line into argv words as a POSIX shell would for quoting only: blanks separate
 * words, '...' is literal, "..." honours \" \\ \$ \`, a backslash outside quotes escapes the next
 * character. No expansion of any kind, and no shell runs the result. E_USAGE on an unterminated
 * quote or an empty command.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw unterminated();
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (ch === '"') {
      word ??= '';
      for (i++; ; i++) {
        if (i >= line.length) throw unterminated();
        const c = line[i]!;
        if (c === '"') break;
        if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) word += line[++i];
        else word += c;
      }
    } else if (ch === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new CconvError('E_USAGE', '--signer-cmd is empty');
  return words;
}

function unterminated(): CconvError {
  return new CconvError('E_USAGE', '--signer-cmd has an unterminated quote');
}

/** The signer the options ask for; reads the passphrase from stdin or CCONV_SIGNING_KEY_PASSPHRASE. */
async function signerChoice(args: SignerArgs, io: CliIo): Promise<SignerChoice> {
  if (args.signerCmd !== undefined) {
    return { command: splitCommandLine(args.signerCmd), publicKeyPath: args.signerPubkey ?? '', encoding: args.signerEncoding };
  }
  const keyPath = args.key ?? defaultSigningKeyPath(io.env, homedir());
  // One trailing line break is dropped, as `echo secret |` adds it.
  const passphrase = args.passphraseStdin === true
    ? (await io.readStdin()).toString('utf8').replace(/\r?\n$/, '')
    : io.env.CCONV_SIGNING_KEY_PASSPHRASE;
  return passphrase !== undefined && passphrase !== '' ? { keyPath, passphrase } : { keyPath };
}

/**
 * Opens the signer the options ask for. Without --key or --signer-cmd the default key is used
 * (`keyPath` overrides where it is looked for); a missing default key is E_IO with a keygen hint.
 */
export async function signerFrom(args: SignerArgs, io: CliIo, keyPath?: string): Promise<Signer> {
  const choice = await signerChoice(keyPath !== undefined && args.key === undefined ? { ...args, key: keyPath } : args, io);
  return openSigner(choice).catch((err: unknown) => {
    if (args.key === undefined && args.signerCmd === undefined && isCconvError(err, 'E_IO')) {
      throw new CconvError('E_IO', err.message, { cause: err.cause, hint: 'run cconv keygen to create the default key, or pass --key or --signer-cmd' });
    }
    throw err;
  });
}
