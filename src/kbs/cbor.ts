/**
 * A minimal CBOR (RFC 8949) decoder for RA-TLS evidence: unsigned integers, byte strings, text
 * strings, arrays, maps and tags, definite lengths only (as Gramine's libcbor writes them and as its
 * verifier requires). Anything else (negative integers, floats, simple values, indefinite lengths),
 * trailing bytes, nesting deeper than 8 levels or a length past the end throws CborError.
 */

/** A decoded CBOR item. */
export type CborItem =
  | { type: 'uint'; value: bigint }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'text'; value: string }
  | { type: 'array'; items: CborItem[] }
  | { type: 'map'; entries: Array<[CborItem, CborItem]> }
  | { type: 'tag'; tag: bigint; item: CborItem };

/** Input that is not the CBOR subset above. */
export class CborError extends Error {
  override readonly name = 'CborError';
}

const MAX_DEPTH = 8;

/** Decodes exactly one item that fills `bytes`. */
export function decodeCbor(bytes: Uint8Array): CborItem {
  const state = { at: 0 };
  const item = decodeItem(bytes, state, 0);
  if (state.at !== bytes.length) throw new CborError(`${bytes.length - state.at} trailing bytes`);
  return item;
}

function readArgument(bytes: Uint8Array, state: { at: number }, info: number): bigint {
  if (info < 24) return BigInt(info);
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) throw new CborError(`unsupported additional information ${info} at ${state.at - 1}`);
  if (state.at + size > bytes.length) throw new CborError('truncated argument');
  let value = 0n;
  for (let i = 0; i < size; i++) value = (value << 8n) | BigInt(bytes[state.at + i]!);
  state.at += size;
  return value;
}

function length(bytes: Uint8Array, state: { at: number }, arg: bigint, unit: number): number {
  const remaining = BigInt(bytes.length - state.at);
  if (arg * BigInt(unit) > remaining) throw new CborError(`length ${arg} at ${state.at} runs past the end`);
  return Number(arg);
}

function decodeItem(bytes: Uint8Array, state: { at: number }, depth: number): CborItem {
  if (depth > MAX_DEPTH) throw new CborError('nesting too deep');
  if (state.at >= bytes.length) throw new CborError('truncated item');
  const initial = bytes[state.at++]!;
  const major = initial >> 5;
  const arg = readArgument(bytes, state, initial & 0x1f);
  switch (major) {
    case 0:
      return { type: 'uint', value: arg };
    case 2:
    case 3: {
      const n = length(bytes, state, arg, 1);
      const value = bytes.subarray(state.at, state.at + n);
      state.at += n;
      if (major === 2) return { type: 'bytes', value };
      try {
        return { type: 'text', value: new TextDecoder('utf-8', { fatal: true }).decode(value) };
      } catch {
        throw new CborError('text string is not UTF-8');
      }
    }
    case 4: {
      const n = length(bytes, state, arg, 1); // each item takes at least one byte
      const items: CborItem[] = [];
      for (let i = 0; i < n; i++) items.push(decodeItem(bytes, state, depth + 1));
      return { type: 'array', items };
    }
    case 5: {
      const n = length(bytes, state, arg, 2);
      const entries: Array<[CborItem, CborItem]> = [];
      for (let i = 0; i < n; i++) entries.push([decodeItem(bytes, state, depth + 1), decodeItem(bytes, state, depth + 1)]);
      return { type: 'map', entries };
    }
    case 6:
      return { type: 'tag', tag: arg, item: decodeItem(bytes, state, depth + 1) };
    default:
      throw new CborError(`unsupported major type ${major} at ${state.at - 1}`);
  }
}
