/**
 * A signer that runs a user-given command (an HSM client, a cloud KMS CLI, openssl on another
 * key store). The command is an argv array run without a shell. It receives the raw 256-byte
 * signing data on stdin, or in a file when an argument contains the `{in}` placeholder (stdin is
 * then empty), and must write the RSASSA-PKCS1-v1_5 SHA-256 signature of those bytes to stdout:
 * 384 raw bytes by default, or base64 / hex text when `encoding` says so. Example:
 * `["openssl", "dgst", "-sha256", "-sign", "key.pem"]`. The returned signature is verified
 * against the public key before it is used.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CconvError, wrapIoError } from '../errors.ts';
import { assertSignature, checkSgxKey } from './rsa.ts';
import type { Signer } from './signer.ts';

/** How the command writes the signature on stdout. */
export type SignatureEncoding = 'raw' | 'base64' | 'hex';

/** Options of externalCommandSigner. */
export interface ExternalSignerOptions {
  /** argv of the command; argv[0] is looked up in PATH. `{in}` in an argument is replaced. */
  command: string[];
  /** PEM file with the signer's public key (SPKI `BEGIN PUBLIC KEY` or PKCS#1 `BEGIN RSA PUBLIC KEY`). */
  publicKeyPath: string;
  /** Default 'raw'. For text encodings surrounding whitespace is ignored. */
  encoding?: SignatureEncoding;
  /** Kill the command after this many milliseconds (default 120000). */
  timeoutMs?: number;
  /** Working directory of the command (default: inherited). */
  cwd?: string;
}

const IN_PLACEHOLDER = '{in}';
const MAX_OUTPUT = 64 * 1024;

/**
 * Builds an external-command signer. The public key is read and checked at once (E_IO,
 * E_KEY_INVALID). `sign` throws E_SIGNER when the command cannot start, exits non-zero, is
 * killed, times out or prints undecodable output, and E_SIGNATURE_INVALID when what it prints
 * is not a valid signature of the data under the public key.
 */
export async function externalCommandSigner(options: ExternalSignerOptions): Promise<Signer> {
  if (options.command.length === 0 || options.command[0] === '') {
    throw new CconvError('E_USAGE', 'external signer command is empty');
  }
  let pem: Buffer;
  try {
    pem = await readFile(options.publicKeyPath);
  } catch (err) {
    throw wrapIoError(err, `cannot read signer public key ${options.publicKeyPath}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new CconvError('E_KEY_INVALID', `${options.publicKeyPath} is not a PEM public key`, { cause: err });
  }
  const publicKey = checkSgxKey(key).key;
  const name = options.command[0] ?? '';
  return {
    publicKey: async () => publicKey,
    sign: async (data) => {
      const out = await runSigner(options, data);
      const signature = decodeSignature(out, options.encoding ?? 'raw', `signer '${name}'`);
      assertSignature(data, signature, publicKey, `signer '${name}'`);
      return signature;
    },
  };
}

/**
 * Decodes a signature as written by a signer or a user: 'raw' bytes as is; base64 or hex text
 * with any whitespace (line breaks included) removed. Text that is not of the encoding is
 * E_SIGNER; the length is left to the verifier (E_SIGNATURE_INVALID).
 */
export function decodeSignature(bytes: Buffer, encoding: SignatureEncoding, who: string): Buffer {
  if (encoding === 'raw') return bytes;
  const text = bytes.toString('latin1').replace(/\s+/g, '');
  const ok =
    encoding === 'hex'
      ? /^(?:[0-9a-fA-F]{2})*$/.test(text)
      : /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text);
  if (!ok) throw new CconvError('E_SIGNER', `${who} wrote output that is not ${encoding} text`);
  return Buffer.from(text, encoding);
}

async function runSigner(options: ExternalSignerOptions, data: Buffer): Promise<Buffer> {
  const usesFile = options.command.some((a) => a.includes(IN_PLACEHOLDER));
  let dir: string | undefined;
  try {
    let argv = options.command;
    if (usesFile) {
      dir = await mkdtemp(join(tmpdir(), 'cconv-sign-'));
      const inPath = join(dir, 'signing-data.bin');
      await writeFile(inPath, data, { mode: 0o600 });
      argv = argv.map((a) => a.split(IN_PLACEHOLDER).join(inPath));
    }
    return await spawnCollect(argv, usesFile ? undefined : data, options);
  } catch (err) {
    throw err instanceof CconvError ? err : wrapIoError(err, 'cannot prepare external signer input');
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

function spawnCollect(argv: string[], stdin: Buffer | undefined, options: ExternalSignerOptions): Promise<Buffer> {
  const [cmd, ...args] = argv as [string, ...string[]];
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer);
      reject(new CconvError('E_SIGNER', message, { cause, hint: 'run the signer command by hand to see why it fails' }));
    };
    const child = spawn(cmd, args, { shell: false, stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
    const out: Buffer[] = [];
    let outLen = 0;
    let errTail = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      fail(`external signer '${cmd}' timed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      fail(`cannot run external signer '${cmd}': ${(err as NodeJS.ErrnoException).code ?? err.message}`, err);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      outLen += chunk.length;
      if (outLen > MAX_OUTPUT) {
        if (!settled) {
          settled = true;
          child.kill('SIGKILL');
          fail(`external signer '${cmd}' wrote more than ${MAX_OUTPUT} bytes`);
        }
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errTail = (errTail + chunk.toString('utf8')).slice(-2000);
    });
    // A command that does not read stdin closes the pipe early (EPIPE): not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? Buffer.alloc(0));
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (code !== 0) {
        // The signer's stderr goes into `cause` (shown with --verbose), not the message.
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        fail(`external signer '${cmd}' ${how}`, new Error(errTail.trim() || '(no stderr)'));
        return;
      }
      resolve(Buffer.concat(out));
    });
  });
}
