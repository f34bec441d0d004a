/**
 * On-disk layout of Gramine protected files (PF format major 2, minor 0), as written by Gramine's
 * `common/src/protected_files` at snapshot ff71d7af. Pure code: constants, node numbering and
 * (de)serialisation of the metadata node and MHT nodes. No I/O, no crypto.
 *
 * File = sequence of 4096-byte nodes:
 *   node 0            metadata node: 59-byte clear header, 3884 encrypted bytes, 153 zero bytes
 *   node 1            root MHT node (logical MHT 0), only when the plaintext is over 3072 bytes
 *   nodes 2..97       data nodes 0..95 (children of MHT 0)
 *   node 98           MHT 1, then its 96 data nodes, and so on: MHT j sits at 1 + 97*j
 * Data node i holds plaintext bytes [3072 + 4096*i, 3072 + 4096*(i+1)); the first 3072 bytes live
 * in the metadata node. MHT j holds (key, tag) of data nodes 96j..96j+95 in entries 0..95 and of
 * its child MHT nodes 32j+1..32j+32 in entries 96..127 (a 32-ary tree numbered breadth-first).
 */
import { CconvError } from '../../errors.ts';

/** Size of every node, in bytes. */
export const PF_NODE_SIZE = 4096;
/** "GRAFS_PF" read as a little-endian u64. */
export const PF_FILE_ID = 0x46505f5346415247n;
/** Major version written; 1 is still readable (no feature-flags byte). */
export const PF_MAJOR_VERSION = 2;
/** Minor version written. */
export const PF_MINOR_VERSION = 0;
/** Feature flag set while a write is pending (needs recovery); such a file is rejected. */
export const PF_FLAG_PENDING_WRITE = 0x01;
/** AES-128 key size in bytes. */
export const PF_KEY_SIZE = 16;
/** GCM tag size in bytes. */
export const PF_MAC_SIZE = 16;
/** GCM IV size in bytes (the IV is always all zeros). */
export const PF_IV_SIZE = 12;
/** Size of the per-file KDF nonce kept in clear in node 0. */
export const PF_NONCE_SIZE = 32;
/** Path field size (260 + 512), NUL included: at most 771 path bytes. */
export const PF_PATH_SIZE = 772;
/** Plaintext bytes kept in the metadata node. */
export const PF_MD_DATA_SIZE = 3072;
/** Clear header size of node 0 (v2). */
export const PF_HEADER_SIZE = 59;
/** Size of the encrypted metadata part of node 0 (followed by 153 zero bytes). */
export const PF_METADATA_ENCRYPTED_SIZE = 3884;
/** Data-node (key, tag) entries per MHT node (entries 0..95). */
export const PF_DATA_PER_MHT = 96;
/** Child-MHT (key, tag) entries per MHT node (entries 96..127). */
export const PF_CHILDREN_PER_MHT = 32;
/** Size of one (key, tag) entry. */
export const PF_ENTRY_SIZE = PF_KEY_SIZE + PF_MAC_SIZE;

// Offsets inside the 3884-byte decrypted metadata.
const MD_PATH = 0;
const MD_SIZE = PF_PATH_SIZE; // 772
const MD_ROOT_KEY = MD_SIZE + 8; // 780
const MD_ROOT_MAC = MD_ROOT_KEY + PF_KEY_SIZE; // 796
const MD_DATA = MD_ROOT_MAC + PF_MAC_SIZE; // 812

/** Physical node index of data node `i` (0-based, in plaintext order). */
export function dataNodePhysical(i: number): number {
  return i + 2 + Math.floor(i / PF_DATA_PER_MHT);
}

/** Physical node index of MHT node `j` (0 = root). */
export function mhtNodePhysical(j: number): number {
  return 1 + j * (PF_DATA_PER_MHT + 1);
}

/** What a physical node index p >= 1 holds: MHT node j, or data node i. */
export function classifyNode(p: number): { kind: 'mht'; index: number } | { kind: 'data'; index: number } {
  const group = Math.floor((p - 1) / (PF_DATA_PER_MHT + 1));
  const slot = (p - 1) % (PF_DATA_PER_MHT + 1);
  return slot === 0 ? { kind: 'mht', index: group } : { kind: 'data', index: group * PF_DATA_PER_MHT + slot - 1 };
}

/** Node counts for a plaintext of `size` bytes; `total * 4096` is the exact on-disk size. */
export function nodeCounts(size: number): { data: number; mht: number; total: number } {
  if (size <= PF_MD_DATA_SIZE) return { data: 0, mht: 0, total: 1 };
  const data = Math.ceil((size - PF_MD_DATA_SIZE) / PF_NODE_SIZE);
  const mht = Math.ceil(data / PF_DATA_PER_MHT);
  return { data, mht, total: 1 + mht + data };
}

/** On-disk size in bytes of a protected file holding `size` plaintext bytes. */
export function encryptedSize(size: number): number {
  return nodeCounts(size).total * PF_NODE_SIZE;
}

/** Parent MHT index and entry slot (96..127) of MHT node j >= 1. */
export function mhtParent(j: number): { parent: number; entry: number } {
  return { parent: Math.floor((j - 1) / PF_CHILDREN_PER_MHT), entry: PF_DATA_PER_MHT + ((j - 1) % PF_CHILDREN_PER_MHT) };
}

/** The clear header of node 0. */
export interface PfHeader {
  fileId: bigint;
  major: number;
  minor: number;
  nonce: Buffer;
  mac: Buffer;
  flags: number;
  /** Offset of the encrypted metadata inside node 0 (59 for v2, 58 for v1). */
  encryptedOffset: number;
}

/** Parses node 0's header; throws E_PF_FORMAT on a foreign file id, unknown version or pending write. */
export function parseHeader(node0: Buffer): PfHeader {
  if (node0.length < PF_NODE_SIZE) throw new CconvError('E_PF_FORMAT', 'protected file is shorter than one node');
  const fileId = node0.readBigUInt64LE(0);
  if (fileId !== PF_FILE_ID) {
    throw new CconvError('E_PF_FORMAT', 'not a Gramine protected file (bad file id)');
  }
  const major = node0[8]!;
  const minor = node0[9]!;
  if (major !== PF_MAJOR_VERSION && major !== 1) {
    throw new CconvError('E_PF_FORMAT', `unsupported protected file version ${major}.${minor}`);
  }
  const flags = major === 1 ? 0 : node0[58]!;
  if (flags & PF_FLAG_PENDING_WRITE) {
    throw new CconvError('E_PF_FORMAT', 'protected file has a pending write (needs Gramine recovery)');
  }
  return {
    fileId,
    major,
    minor,
    nonce: Buffer.from(node0.subarray(10, 42)),
    mac: Buffer.from(node0.subarray(42, 58)),
    flags,
    encryptedOffset: major === 1 ? 58 : PF_HEADER_SIZE,
  };
}

/** Builds the 59-byte v2 clear header. */
export function buildHeader(nonce: Buffer, mac: Buffer): Buffer {
  const h = Buffer.alloc(PF_HEADER_SIZE);
  h.writeBigUInt64LE(PF_FILE_ID, 0);
  h[8] = PF_MAJOR_VERSION;
  h[9] = PF_MINOR_VERSION;
  nonce.copy(h, 10);
  mac.copy(h, 42);
  h[58] = 0;
  return h;
}

/** The decrypted part of node 0. `data` is the first min(size, 3072) plaintext bytes. */
export interface PfMetadata {
  path: string;
  size: number;
  rootKey: Buffer;
  rootMac: Buffer;
  data: Buffer;
}

/** Checks a path fits the 772-byte NUL-terminated field; throws E_USAGE otherwise. */
export function checkPathField(path: string): Buffer {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.includes(0)) throw new CconvError('E_USAGE', 'protected file path contains a NUL byte');
  if (bytes.length > PF_PATH_SIZE - 1) {
    throw new CconvError('E_USAGE', `protected file path is ${bytes.length} bytes; at most ${PF_PATH_SIZE - 1} fit`);
  }
  return bytes;
}

/** Serialises the 3884-byte decrypted metadata (zero-filled past the path and the data). */
export function buildMetadata(md: PfMetadata): Buffer {
  const b = Buffer.alloc(PF_METADATA_ENCRYPTED_SIZE);
  checkPathField(md.path).copy(b, MD_PATH);
  b.writeBigUInt64LE(BigInt(md.size), MD_SIZE);
  md.rootKey.copy(b, MD_ROOT_KEY);
  md.rootMac.copy(b, MD_ROOT_MAC);
  md.data.copy(b, MD_DATA, 0, Math.min(md.data.length, PF_MD_DATA_SIZE));
  return b;
}

/** Parses the 3884-byte decrypted metadata; throws E_PF_FORMAT on an unterminated path or huge size. */
export function parseMetadata(b: Buffer): PfMetadata {
  const nul = b.subarray(MD_PATH, MD_PATH + PF_PATH_SIZE).indexOf(0);
  if (nul < 0) throw new CconvError('E_PF_FORMAT', 'protected file path is not NUL-terminated');
  const size = b.readBigUInt64LE(MD_SIZE);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CconvError('E_PF_FORMAT', 'protected file size field is out of range');
  }
  const n = Number(size);
  return {
    path: b.toString('utf8', MD_PATH, MD_PATH + nul),
    size: n,
    rootKey: Buffer.from(b.subarray(MD_ROOT_KEY, MD_ROOT_KEY + PF_KEY_SIZE)),
    rootMac: Buffer.from(b.subarray(MD_ROOT_MAC, MD_ROOT_MAC + PF_MAC_SIZE)),
    data: Buffer.from(b.subarray(MD_DATA, MD_DATA + Math.min(n, PF_MD_DATA_SIZE))),
  };
}

/** Key and tag of entry `e` (0..127) of a decrypted MHT node (views, not copies). */
export function mhtEntry(mht: Buffer, e: number): { key: Buffer; mac: Buffer } {
  const o = e * PF_ENTRY_SIZE;
  return { key: mht.subarray(o, o + PF_KEY_SIZE), mac: mht.subarray(o + PF_KEY_SIZE, o + PF_ENTRY_SIZE) };
}

/** Stores key and tag into entry `e` of a decrypted MHT node. */
export function setMhtEntry(mht: Buffer, e: number, key: Buffer, mac: Buffer): void {
  const o = e * PF_ENTRY_SIZE;
  key.copy(mht, o);
  mac.copy(mht, o + PF_KEY_SIZE);
}
