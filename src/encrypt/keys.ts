/**
 * Data keys: the 128-bit wrap key (Gramine's KDK) of a build's encrypted files.
 *
 * A key lives in a SecretKey, whose string, JSON and util.inspect forms are "[redacted]", so a key
 * that reaches a log line, a JSON result or an error message by mistake shows nothing. The raw bytes
 * come out only through `expose()`, at the few places that need them (encryption, sealing, writing
 * the key file). Key files are written atomically with mode 0600.
 *
 * Key file format (`--data-key FILE`, `cconv keys open --out FILE`): exactly 16 raw bytes (what
 * Gramine's /dev/attestation/keys/<name> and gramine-sgx-pf-crypt's -w file hold), or 32 hex digits
 * with an optional trailing newline. cconv writes the raw form.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { CconvError, wrapIoError } from '../errors.ts';
import { atomicWriteFile } from '../files.ts';

/** Size of a data key in bytes (AES-128). */
export const DATA_KEY_SIZE = 16;

const REDACTED = '[redacted]';

/**
 * A secret key that never prints itself. The bytes are copied in; `destroy()` zeroes them.
 * `toString()`, `toJSON()`, template literals and `util.inspect` all give "[redacted]".
 */
export class SecretKey {
  readonly #bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes);
  }

  /** Key length in bytes. */
  get length(): number {
    return this.#bytes.length;
  }

  /** The raw bytes (the SecretKey's own buffer: do not keep or log it; do not modify it). */
  expose(): Buffer {
    return this.#bytes;
  }

  /** Constant-time comparison with another key. */
  equals(other: SecretKey): boolean {
    const b = other.expose();
    return b.length === this.#bytes.length && timingSafeEqual(b, this.#bytes);
  }

  /** Zeroes the bytes; the key is unusable afterwards. */
  destroy(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretKey ${REDACTED}`;
  }
}

/** A fresh random 16-byte data key from the CSPRNG. */
export function generateDataKey(): SecretKey {
  const raw = randomBytes(DATA_KEY_SIZE);
  const key = new SecretKey(raw);
  raw.fill(0);
  return key;
}

/**
 * Parses key material: exactly 16 raw bytes, or 32 hex digits with an optional trailing "\n" or
 * "\r\n". Anything else is E_KEY_INVALID; the message gives the source name and the length only,
 * never the content. `source` names the origin for the message ("--key", a file path).
 */
export function parseDataKey(material: Uint8Array | string, source: string): SecretKey {
  const buf = typeof material === 'string' ? Buffer.from(material, 'utf8') : Buffer.from(material);
  try {
    if (typeof material !== 'string' && buf.length === DATA_KEY_SIZE) return new SecretKey(buf);
    let text = buf.toString('latin1');
    if (text.endsWith('\r\n')) text = text.slice(0, -2);
    else if (text.endsWith('\n')) text = text.slice(0, -1);
    if (/^[0-9a-fA-F]{32}$/.test(text)) {
      const raw = Buffer.from(text, 'hex');
      const key = new SecretKey(raw);
      raw.fill(0);
      return key;
    }
    throw new CconvError('E_KEY_INVALID', `${source}: not a data key (${buf.length} bytes; want 16 raw bytes or 32 hex digits)`, {
      hint: 'a data key is 16 random bytes; create one with `head -c 16 /dev/urandom > key.bin`',
    });
  } finally {
    buf.fill(0);
  }
}

/** Reads a key file (see module comment). E_IO when unreadable, E_KEY_INVALID when malformed. */
export async function loadDataKey(file: string): Promise<SecretKey> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw wrapIoError(err, `cannot read key file ${file}`);
  }
  try {
    return parseDataKey(raw, file);
  } finally {
    raw.fill(0);
  }
}

/** Writes a key (16 raw bytes) to `path` with mode 0600, atomically. */
export async function writeKeyFile(path: string, key: SecretKey | Uint8Array, options: { overwrite?: boolean } = {}): Promise<void> {
  const bytes = key instanceof SecretKey ? key.expose() : key;
  await atomicWriteFile(path, bytes, { mode: 0o600, overwrite: options.overwrite ?? false });
}
