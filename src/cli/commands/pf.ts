/**
 * `cconv pf encrypt|decrypt|info`: Gramine protected files one at a time, the counterpart of
 * `gramine-sgx-pf-crypt`. Outputs go to a temporary name in the output's directory and take their
 * final name only when complete and verified, so a failed decryption never leaves plaintext behind.
 */
import { writeViaTemp } from '../../files.ts';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import {
  CconvError,
  decryptFile,
  encryptToFile,
  loadDataKey,
  nodeCounts,
  parseDataKey,
  parseHeader,
  PF_NODE_SIZE,
  readPfInfo,
  type SecretKey,
} from '../../index.ts';
import { wrapIoError } from '../../errors.ts';
import { runTask } from '../../progress.ts';
import type { CommandHandler } from '../main.ts';
import { formatBytes } from '../render.ts';

interface KeyArgs {
  key?: string;
  keyFile?: string;
}

/** The key the options name, or undefined when none is given. */
async function keyFrom(args: KeyArgs): Promise<SecretKey | undefined> {
  if (args.key !== undefined) return parseDataKey(args.key, '--key');
  if (args.keyFile !== undefined) return loadDataKey(args.keyFile);
  return undefined;
}

async function requireKey(args: KeyArgs): Promise<SecretKey> {
  const key = await keyFrom(args);
  if (key === undefined) throw new CconvError('E_USAGE', 'give the wrap key with --key-file FILE or --key HEX');
  return key;
}

async function inputSize(path: string): Promise<number> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new CconvError('E_IO', `${path} is not a regular file`);
    return st.size;
  } catch (err) {
    throw wrapIoError(err, `cannot read ${path}`);
  }
}

interface EncryptArgs extends KeyArgs {
  input: string;
  output: string;
  path: string;
  force: boolean;
}

/** What `pf encrypt` and `pf decrypt` report. */
export interface PfCryptResult {
  input: string;
  output: string;
  /** The path bound into the file. */
  boundPath: string;
  /** Plaintext bytes. */
  size: number;
  /** Size of the protected file in bytes. */
  protectedSize: number;
}

/** `pf encrypt`. */
export const pfEncryptCommand: CommandHandler<EncryptArgs, PfCryptResult> = {
  stages: () => [{ id: 'encrypt', title: 'Encrypting' }],
  run: async (args, report) => {
    const size = await inputSize(args.input);
    const key = await requireKey(args);
    try {
      const result = await writeViaTemp(args.output, args.force, (tmp) =>
        runTask(report, 'encrypt', `Encrypting ${args.input}`, async (advance) => {
          async function* counted(): AsyncGenerator<Buffer> {
            for await (const chunk of createReadStream(args.input, { highWaterMark: 1 << 20 })) {
              advance((chunk as Buffer).length);
              yield chunk as Buffer;
            }
          }
          return encryptToFile(counted(), tmp, { key: key.expose(), path: args.path, size });
        }, size),
      );
      return { input: args.input, output: args.output, boundPath: result.path, size: result.size, protectedSize: result.nodes * PF_NODE_SIZE };
    } finally {
      key.destroy();
    }
  },
  human: (r) => `Encrypted ${r.input} (${formatBytes(r.size)}) -> ${r.output} (${formatBytes(r.protectedSize)}), bound to ${r.boundPath}`,
};

interface DecryptArgs extends KeyArgs {
  input: string;
  output: string;
  path?: string;
  checkPath: boolean;
  force: boolean;
}

/** `pf decrypt`. */
export const pfDecryptCommand: CommandHandler<DecryptArgs, PfCryptResult> = {
  stages: () => [{ id: 'decrypt', title: 'Decrypting' }],
  run: async (args, report) => {
    if (args.checkPath && args.path === undefined) {
      throw new CconvError('E_USAGE', 'give the bound path with --path PATH, or skip the check with --no-check-path');
    }
    if (!args.checkPath && args.path !== undefined) throw new CconvError('E_USAGE', '--path and --no-check-path contradict each other');
    const protectedSize = await inputSize(args.input);
    const key = await requireKey(args);
    const opts = args.path === undefined ? { key: key.expose() } : { key: key.expose(), path: args.path };
    try {
      const info = await readPfInfo(args.input, opts); // wrong key or path fails here, before any output exists
      await writeViaTemp(args.output, args.force, (tmp) =>
        runTask(report, 'decrypt', `Decrypting ${args.input}`, async (advance) => {
          async function* counted(): AsyncGenerator<Buffer> {
            for await (const chunk of decryptFile(args.input, opts)) {
              advance((chunk as Buffer).length);
              yield chunk as Buffer;
            }
          }
          const fh = await open(tmp, 'wx', 0o600); // created before any byte is decrypted: writeViaTemp always removes it
          await pipeline(counted(), fh.createWriteStream());
        }, info.metadata.size),
      );
      return { input: args.input, output: args.output, boundPath: info.metadata.path, size: info.metadata.size, protectedSize };
    } finally {
      key.destroy();
    }
  },
  human: (r) => `Decrypted ${r.input} -> ${r.output} (${formatBytes(r.size)}), bound to ${r.boundPath}`,
};

interface InfoArgs extends KeyArgs {
  file: string;
}

/** What `pf info` reports; path and size need the key. */
export interface PfInfoResult {
  file: string;
  format: 'gramine-protected-file';
  version: string;
  /** Size on disk in bytes. */
  fileSize: number;
  nodes: number;
  /** The bound path (with a key only). */
  boundPath?: string;
  /** Plaintext size (with a key only). */
  size?: number;
  /** With a key: whether the node count matches the plaintext size. */
  consistent?: boolean;
}

/** `pf info`. */
export const pfInfoCommand: CommandHandler<InfoArgs, PfInfoResult> = {
  run: async (args) => {
    const fileSize = await inputSize(args.file);
    const node0 = Buffer.alloc(PF_NODE_SIZE);
    let got = 0;
    try {
      const fh = await open(args.file, 'r');
      try {
        got = (await fh.read(node0, 0, PF_NODE_SIZE, 0)).bytesRead;
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw wrapIoError(err, `cannot read ${args.file}`);
    }
    const header = parseHeader(node0.subarray(0, got));
    if (fileSize % PF_NODE_SIZE !== 0) {
      throw new CconvError('E_PF_FORMAT', `protected file size ${fileSize} is not a multiple of ${PF_NODE_SIZE}`);
    }
    const result: PfInfoResult = { file: args.file, format: 'gramine-protected-file', version: `${header.major}.${header.minor}`, fileSize, nodes: fileSize / PF_NODE_SIZE };
    const key = await keyFrom(args);
    if (key !== undefined) {
      try {
        const { metadata } = await readPfInfo(args.file, { key: key.expose() });
        result.boundPath = metadata.path;
        result.size = metadata.size;
        result.consistent = nodeCounts(metadata.size).total === result.nodes;
      } finally {
        key.destroy();
      }
    }
    return result;
  },
  human: (r) => {
    const lines = [`File:        ${r.file}`, `Format:      Gramine protected file, version ${r.version}`, `Size:        ${r.fileSize} bytes, ${r.nodes} nodes of ${PF_NODE_SIZE}`];
    if (r.boundPath === undefined) lines.push('Bound path:  (needs the key: --key-file)');
    else lines.push(`Bound path:  ${r.boundPath}`, `Plaintext:   ${r.size} bytes${r.consistent ? '' : ' (does NOT match the node count: truncated or padded file)'}`);
    return lines.join('\n');
  },
};
