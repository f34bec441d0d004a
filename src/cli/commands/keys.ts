/**
 * `cconv keys gen-broker|open`: the key broker's side of key envelopes. gen-broker creates the
 * broker's X25519 key pair; open recovers a build's data key from its envelope with the broker's
 * secret key (what a key broker does after checking the requester's attestation).
 */
import { mkdir, readFile } from 'node:fs/promises';
import {
  CconvError,
  generateBrokerKeyPair,
  loadBrokerSecretKey,
  openEnvelope,
  parseEnvelope,
  writeBrokerKeyFiles,
  writeKeyFile,
  type EnvelopeIdentity,
} from '../../index.ts';
import { wrapIoError } from '../../errors.ts';
import type { CommandHandler } from '../main.ts';

interface GenBrokerArgs {
  out: string;
  force: boolean;
}

/** What `keys gen-broker` reports (no secret). */
export interface GenBrokerResult {
  secretKeyFile: string;
  publicKeyFile: string;
  keyId: string;
}

/** `keys gen-broker`. */
export const genBrokerCommand: CommandHandler<GenBrokerArgs, GenBrokerResult> = {
  run: async (args) => {
    try {
      await mkdir(args.out, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw wrapIoError(err, `cannot create ${args.out}`);
    }
    const pair = generateBrokerKeyPair();
    try {
      const files = await writeBrokerKeyFiles(args.out, pair, { overwrite: args.force });
      return { ...files, keyId: pair.keyId };
    } finally {
      pair.secretKey.destroy();
    }
  },
  human: (r) =>
    [
      `Wrote broker secret key ${r.secretKeyFile} (mode 0600: keep it on the key broker only)`,
      `Wrote broker public key ${r.publicKeyFile} (give it to builds: envelopes are sealed to it)`,
      `Key id: ${r.keyId}`,
    ].join('\n'),
};

interface OpenArgs {
  envelope: string;
  brokerKey: string;
  out?: string;
  print: boolean;
  force: boolean;
}

/** What `keys open` reports; `key` (hex) only with --print. */
export interface OpenResult {
  keyName: string;
  identity: EnvelopeIdentity;
  recipientKeyId: string;
  imageDigest: string | null;
  out?: string;
  key?: string;
}

/** `keys open`. */
export const openCommand: CommandHandler<OpenArgs, OpenResult> = {
  run: async (args, _report, io) => {
    if (args.out === undefined && !args.print) {
      throw new CconvError('E_USAGE', 'say where the key goes: --out FILE (or --print to show it as hex)');
    }
    let text: string;
    try {
      text = await readFile(args.envelope, 'utf8');
    } catch (err) {
      throw wrapIoError(err, `cannot read ${args.envelope}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      throw new CconvError('E_CONFIG', `${args.envelope}: not JSON (a key envelope is a JSON file)`);
    }
    const envelope = parseEnvelope(json);
    const broker = await loadBrokerSecretKey(args.brokerKey);
    let opened;
    try {
      opened = openEnvelope(envelope, broker.secretKey);
    } finally {
      broker.secretKey.destroy();
    }
    try {
      const result: OpenResult = { keyName: opened.keyName, identity: opened.identity, recipientKeyId: envelope.recipientKeyId, imageDigest: envelope.imageDigest };
      if (args.out !== undefined) {
        await writeKeyFile(args.out, opened.key, { overwrite: args.force });
        result.out = args.out;
      }
      if (args.print) {
        io.stderr('cconv: WARNING: printing the data key in clear on stdout; anyone who sees this output can decrypt the image\'s files\n');
        result.key = opened.key.expose().toString('hex');
      }
      return result;
    } finally {
      opened.key.destroy();
    }
  },
  human: (r) => {
    if (r.key !== undefined) return r.key;
    return [`Wrote the data key for key_name "${r.keyName}" to ${r.out} (mode 0600)`, `Bound to MRENCLAVE ${r.identity.mrenclave}, MRSIGNER ${r.identity.mrsigner}`].join('\n');
  },
};
