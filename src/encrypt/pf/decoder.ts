/**
 * Pure core of the protected-file reader: takes the file's nodes in file order and returns the
 * plaintext each one yields, verifying everything on the way:
 *   header (file id, version, pending-write flag)  -> E_PF_FORMAT
 *   metadata tag (wrong wrap key or tampering)       -> E_PF_AUTH
 *   bound path vs expected path                      -> E_PF_PATH ("Invalid path")
 *   every MHT and data node tag                      -> E_PF_AUTH naming the node
 *   node count vs plaintext size                     -> E_PF_FORMAT
 * Memory: the current MHT node's 96 data entries plus, for each MHT node whose children are still
 * ahead, its 32 child entries (1 KiB): about 1 KiB per 12 MiB of plaintext, never the ciphertext.
 */
import { CconvError } from '../../errors.ts';
import {
  PF_DATA_PER_MHT,
  PF_CHILDREN_PER_MHT,
  PF_ENTRY_SIZE,
  PF_MD_DATA_SIZE,
  PF_METADATA_ENCRYPTED_SIZE,
  PF_NODE_SIZE,
  type PfHeader,
  type PfMetadata,
  classifyNode,
  mhtEntry,
  mhtParent,
  nodeCounts,
  parseHeader,
  parseMetadata,
} from './format.ts';
import { gcmDecrypt } from './gcm.ts';
import { deriveMetadataKey } from './kdf.ts';
import { getNormPath } from './path.ts';

/** Options of the reader. */
export interface PfReadOptions {
  /** 16-byte wrap key. */
  key: Buffer;
  /**
   * Path the file must be bound to. It is normalised with getNormPath (as Gramine's callers do)
   * and compared exactly with the stored path. Omit to skip the check.
   */
  path?: string;
}

/** Header and decrypted metadata of a protected file. */
export interface PfInfo {
  header: PfHeader;
  metadata: PfMetadata;
}

/**
 * Parses and authenticates node 0 (the first 4096 bytes). Throws E_PF_FORMAT, E_PF_AUTH or
 * E_PF_PATH (see module comment). `metadata.data` holds the first min(size, 3072) plaintext bytes.
 */
export function openMetadata(node0: Buffer, opts: PfReadOptions): PfInfo {
  if (!Buffer.isBuffer(opts.key) || opts.key.length !== 16) {
    throw new CconvError('E_USAGE', 'protected-file wrap key must be 16 bytes');
  }
  const header = parseHeader(node0);
  const key = deriveMetadataKey(opts.key, header.nonce);
  const off = header.encryptedOffset;
  const plain = gcmDecrypt(key, node0.subarray(off, off + PF_METADATA_ENCRYPTED_SIZE), header.mac);
  key.fill(0);
  if (!plain) {
    throw new CconvError('E_PF_AUTH', 'protected file: metadata node (node 0) failed authentication', {
      hint: 'wrong wrap key, or the file was modified',
    });
  }
  const metadata = parseMetadata(plain);
  plain.fill(0);
  if (opts.path !== undefined) {
    const want = getNormPath(opts.path);
    if (want !== metadata.path) {
      throw new CconvError('E_PF_PATH', `protected file: Invalid path (bound to "${metadata.path}", opened as "${want}")`, {
        hint: 'Gramine binds each encrypted file to its normalised host path; re-encrypt it for this path',
      });
    }
  }
  return { header, metadata };
}

/** Node-by-node decoder; feed nodes with push() in file order, then call end(). */
export class PfDecoder {
  private info: PfInfo | undefined;
  private next = 0; // physical index of the next node
  private counts = { data: 0, mht: 0, total: 1 };
  private dataEntries: Buffer | undefined; // 96 entries of the current MHT node
  private readonly children = new Map<number, Buffer>(); // MHT j -> its 32 child entries

  constructor(private readonly opts: PfReadOptions) {}

  /** Metadata, once node 0 was pushed. */
  get metadata(): PfInfo | undefined {
    return this.info;
  }

  /** Verifies one 4096-byte node and returns the plaintext it yields (possibly empty). */
  push(node: Buffer): Buffer {
    if (node.length !== PF_NODE_SIZE) throw new CconvError('E_INTERNAL', 'PfDecoder.push needs one whole node');
    const p = this.next++;
    if (p === 0) {
      this.info = openMetadata(node, this.opts);
      this.counts = nodeCounts(this.info.metadata.size);
      return this.info.metadata.data;
    }
    if (p >= this.counts.total) {
      throw new CconvError('E_PF_FORMAT', `protected file has more nodes than its size ${this.size()} needs (${this.counts.total})`);
    }
    const what = classifyNode(p);
    if (what.kind === 'mht') return this.pushMht(what.index, p, node);
    return this.pushData(what.index, p, node);
  }

  /** Checks that no node is missing. */
  end(): void {
    if (this.next < this.counts.total) {
      throw new CconvError(
        'E_PF_FORMAT',
        `protected file is truncated: ${this.next} of ${this.counts.total} nodes for ${this.size()} bytes`,
      );
    }
    this.dataEntries?.fill(0);
    for (const c of this.children.values()) c.fill(0);
    this.children.clear();
  }

  private size(): number {
    return this.info?.metadata.size ?? 0;
  }

  private pushMht(j: number, p: number, node: Buffer): Buffer {
    let key: Buffer;
    let mac: Buffer;
    let parentEntries: Buffer | undefined;
    let parent = -1;
    if (j === 0) {
      ({ rootKey: key, rootMac: mac } = this.info!.metadata);
    } else {
      const rel = mhtParent(j);
      parent = rel.parent;
      parentEntries = this.children.get(parent);
      if (!parentEntries) throw new CconvError('E_INTERNAL', `MHT node ${j} has no parent entries`);
      ({ key, mac } = mhtEntry(parentEntries, rel.entry - PF_DATA_PER_MHT));
    }
    const plain = gcmDecrypt(key, node, mac);
    if (!plain) {
      throw new CconvError('E_PF_AUTH', `protected file: MHT node ${j} (node ${p}, offset ${p * PF_NODE_SIZE}) failed authentication`);
    }
    const lastChild = Math.min(PF_CHILDREN_PER_MHT * parent + PF_CHILDREN_PER_MHT, this.counts.mht - 1);
    if (parentEntries && j === lastChild) {
      parentEntries.fill(0);
      this.children.delete(parent);
    }
    this.dataEntries?.fill(0);
    this.dataEntries = Buffer.from(plain.subarray(0, PF_DATA_PER_MHT * PF_ENTRY_SIZE));
    if (PF_CHILDREN_PER_MHT * j + 1 < this.counts.mht) {
      this.children.set(j, Buffer.from(plain.subarray(PF_DATA_PER_MHT * PF_ENTRY_SIZE)));
    }
    plain.fill(0);
    return Buffer.alloc(0);
  }

  private pushData(i: number, p: number, node: Buffer): Buffer {
    const { key, mac } = mhtEntry(this.dataEntries!, i % PF_DATA_PER_MHT);
    const plain = gcmDecrypt(key, node, mac);
    if (!plain) {
      throw new CconvError('E_PF_AUTH', `protected file: data node ${i} (node ${p}, offset ${p * PF_NODE_SIZE}) failed authentication`);
    }
    const left = this.size() - PF_MD_DATA_SIZE - i * PF_NODE_SIZE;
    return left >= PF_NODE_SIZE ? plain : plain.subarray(0, left);
  }
}
