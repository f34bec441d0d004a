/**
 * What the signing commands need before they sign: input files read with clear E_IO messages,
 * the signer (PEM key file or external command), the signing date, and the default enclave key
 * (its path, and generating it). No printing; the environment is handed in by the caller.
 */
import { lstat, open } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { CconvError } from '../errors.ts';
import { defaultSigstructDate, parseSigstructDate, type SigstructDate } from './date.ts';
import { externalCommandSigner, type SignatureEncoding } from './external-signer.ts';
import { generateSigningKey, type GeneratedKey } from './keygen.ts';
import { keyObjectSigner, loadPrivateKeyPem, type Signer } from './signer.ts';

/**
 * The signing date: `date` (`YYYY-MM-DD`) when given, else the UTC day of `sourceDateEpoch`
 * (the SOURCE_DATE_EPOCH value) when set, else today (UTC). Malformed values are E_USAGE.
 */
export function resolveSigningDate(date?: string, sourceDateEpoch?: string): SigstructDate {
  return date !== undefined ? parseSigstructDate(date) : defaultSigstructDate({ sourceDateEpoch });
}

/** Inputs cannot be larger than this; both are small (a manifest, the PAL). */
const MAX_INPUT = 64 * 1024 * 1024;
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
};

/**
 * Reads a small input file whole. Errors are E_IO with `what` and the path, e.g.
 * `cannot read manifest ./app.manifest.sgx: no such file or directory`.
 */
export async function readInputFile(path: string, what: string): Promise<Buffer> {
  const fail = (reason: string, cause?: unknown) =>
    new CconvError('E_IO', `cannot read ${what} ${path}: ${reason}`, cause === undefined ? {} : { cause });
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw fail(REASONS[code] ?? (code || String(err)), err);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw fail(REASONS.EISDIR!);
    if (!st.isFile()) throw fail('not a regular file');
    if (st.size > MAX_INPUT) throw fail(`file is larger than ${MAX_INPUT} bytes`);
    return await fh.readFile();
  } catch (err) {
    if (err instanceof CconvError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw fail(REASONS[code] ?? (code || String(err)), err);
  } finally {
    await fh.close();
  }
}

/** How to sign: a PEM private key file, or an external command with the matching public key. */
export type SignerChoice =
  | { keyPath: string; passphrase?: string }
  | { command: string[]; publicKeyPath: string; encoding?: SignatureEncoding };

/**
 * Opens the chosen signer. Errors: E_IO (unreadable key file), E_KEY_INVALID (not a private
 * key, wrong passphrase, not RSA-3072 with e = 3), E_USAGE (empty command).
 */
export async function openSigner(choice: SignerChoice): Promise<Signer> {
  if ('keyPath' in choice) {
    const pem = await readInputFile(choice.keyPath, 'signing key');
    return keyObjectSigner(loadPrivateKeyPem(pem, choice.keyPath, choice.passphrase));
  }
  await readInputFile(choice.publicKeyPath, 'signer public key'); // for the clear E_IO message
  return externalCommandSigner({ command: choice.command, publicKeyPath: choice.publicKeyPath, ...(choice.encoding ? { encoding: choice.encoding } : {}) });
}

/**
 * Default path of the enclave signing key: `$XDG_CONFIG_HOME/cconv/enclave-key.pem` when
 * XDG_CONFIG_HOME is an absolute path, else `$HOME/.config/cconv/enclave-key.pem`. Pure: the
 * caller hands in the environment and the home directory to fall back on.
 */
export function defaultSigningKeyPath(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || home, '.config');
  return join(base, 'cconv', 'enclave-key.pem');
}

/**
 * Generates an RSA-3072 e = 3 signing key at `path` (mode 0600, missing directories 0700).
 * An existing file is E_USAGE unless `force`; other errors E_IO. The key is never returned.
 */
export async function createSigningKeyFile(path: string, options: { force?: boolean } = {}): Promise<GeneratedKey> {
  if (options.force !== true) {
    // Other lstat errors fall through to generateSigningKey, which reports them as E_IO.
    if (await lstat(path).then(() => true, () => false)) {
      throw new CconvError('E_USAGE', `refusing to overwrite existing file ${path}`, {
        hint: 'pass --force to replace it (enclaves signed with the new key get a new MRSIGNER)',
      });
    }
  }
  return generateSigningKey(path, { force: options.force === true });
}
