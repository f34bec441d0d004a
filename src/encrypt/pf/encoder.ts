/**
 * Pure core of the protected-file writer: consumes plaintext in order and hands encrypted nodes to
 * a positional sink. No fs; the shell in writer.ts supplies the sink.
 *
 * Why positional output and not a stream in file order: node 0 holds the tag of the root MHT
 * node, whose content holds the tags of all its children, recursively, so node 0 and node 1 depend
 * on the whole file, and an MHT node (placed before its data nodes) depends on child MHT nodes
 * placed much later. No file-order stream can be produced without holding the whole ciphertext.
 * So each node is written at its own offset as soon as it is final:
 *   - data nodes per MHT group (<= 96 nodes, 384 KiB): the group's plaintext is gathered, encrypted
 *     in one batch (by the native addon when built: one call, one OpenSSL context re-keyed per node)
 *     and written with one write;
 *   - MHT node j once its 96 data nodes and its (up to 32) child MHT nodes are written;
 *   - node 0 last.
 * Memory: one group of ciphertext + the decrypted MHT nodes still waiting for children (4 KiB
 * each: the ancestors of the current node plus, when the tree grows a level, the nodes of the level
 * above: at most about 1/32 of all MHT nodes, i.e. ~1 KiB per 3 MiB of plaintext).
 */
import { CconvError } from '../../errors.ts';
import {
  PF_DATA_PER_MHT,
  PF_CHILDREN_PER_MHT,
  PF_KEY_SIZE,
  PF_MAC_SIZE,
  PF_MD_DATA_SIZE,
  PF_NODE_SIZE,
  PF_NONCE_SIZE,
  PF_METADATA_ENCRYPTED_SIZE,
  PF_HEADER_SIZE,
  buildHeader,
  buildMetadata,
  checkPathField,
  dataNodePhysical,
  mhtNodePhysical,
  mhtParent,
  nodeCounts,
  setMhtEntry,
} from './format.ts';
import { gcmEncrypt, nodeKeys } from './gcm.ts';
import { nativeGcmNodes } from './native.ts';
import { deriveMetadataKey } from './kdf.ts';
import { getNormPath } from './path.ts';
import { randomBytes } from 'node:crypto';

/**
 * Writes `buffers` (consecutive whole nodes) starting at physical node `node`. The encoder awaits
 * each call before going on, and never writes the same node twice.
 */
export type NodeSink = (node: number, buffers: Buffer[]) => Promise<void>;

/** Options of PfEncoder. */
export interface PfEncoderOptions {
  /** 16-byte wrap key (Gramine's KDK). */
  key: Buffer;
  /** Path to bind; stored after getNormPath (as Gramine's tools do). */
  path: string;
  /** Expected plaintext size; when given, finish() fails with E_SIZE_MISMATCH on another size. */
  size?: number;
}

interface OpenMht {
  plain: Buffer;
  dataDone: boolean;
  closedChildren: number;
}

/** The data nodes of one MHT node (at most 96), gathered in file order. */
interface Group {
  /** Logical MHT index. */
  mht: number;
  /** Physical index of its first data node. */
  start: number;
  plain: Buffer;
  nodes: number;
}

/** Groups encrypted at once (each 384 KiB of plaintext and ciphertext). */
const GROUPS_IN_FLIGHT = 4;

/** Summary of one encrypted file. */
export interface PfWriteResult {
  /** Plaintext bytes. */
  size: number;
  /** Node count; the file is nodes * 4096 bytes. */
  nodes: number;
  /** The path bound into the file (normalised). */
  path: string;
}

/** Streaming encoder: call write() for each chunk in order, then finish() once. */
export class PfEncoder {
  private readonly keys = nodeKeys;
  private readonly wrapKey: Buffer;
  private readonly path: string;
  private readonly expected: number | undefined;
  private readonly head = Buffer.alloc(PF_MD_DATA_SIZE);
  private readonly node = Buffer.alloc(PF_NODE_SIZE);
  private fill = 0;
  private size = 0;
  private dataIndex = 0; // next data node index
  /** The group being gathered: its data nodes' plaintext, encrypted in one batch when full. */
  private gathering: Group | undefined;
  /**
   * Completions of the groups launched so far, in order: a group's encryption runs as soon as it
   * is full (up to GROUPS_IN_FLIGHT at once), but flushing it and closing MHT nodes happen one
   * group after the other, in file order.
   */
  private tail: Promise<void> = Promise.resolve();
  /** The completion of each group launched and not yet awaited, oldest first (none rejects). */
  private readonly pending: Array<Promise<void>> = [];
  private failure: { error: unknown } | undefined;
  private readonly open = new Map<number, OpenMht>();
  private rootKey: Buffer = Buffer.alloc(PF_KEY_SIZE);
  private rootMac: Buffer = Buffer.alloc(PF_MAC_SIZE);
  private finished = false;

  constructor(
    opts: PfEncoderOptions,
    private readonly sink: NodeSink,
  ) {
    if (!Buffer.isBuffer(opts.key) || opts.key.length !== PF_KEY_SIZE) {
      throw new CconvError('E_USAGE', 'protected-file wrap key must be 16 bytes');
    }
    this.wrapKey = Buffer.from(opts.key);
    this.path = getNormPath(opts.path);
    checkPathField(this.path);
    this.expected = opts.size;
  }

  /** Adds the next plaintext bytes. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.finished) throw new CconvError('E_INTERNAL', 'PfEncoder.write after finish');
    if (this.failure) throw this.failure.error;
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.expected !== undefined && this.size + buf.length > this.expected) {
      throw new CconvError('E_SIZE_MISMATCH', `plaintext is longer than the declared ${this.expected} bytes`);
    }
    if (this.size < PF_MD_DATA_SIZE) {
      const n = Math.min(buf.length, PF_MD_DATA_SIZE - this.size);
      buf.copy(this.head, this.size, 0, n);
      this.size += n;
      buf = buf.subarray(n);
    }
    while (buf.length > 0) {
      if (this.fill === 0 && buf.length >= PF_NODE_SIZE) {
        const done = this.encryptData(buf.subarray(0, PF_NODE_SIZE)); // whole node, no copy
        if (done) await done;
        buf = buf.subarray(PF_NODE_SIZE);
        this.size += PF_NODE_SIZE;
        continue;
      }
      const n = Math.min(buf.length, PF_NODE_SIZE - this.fill);
      buf.copy(this.node, this.fill, 0, n);
      this.fill += n;
      this.size += n;
      buf = buf.subarray(n);
      if (this.fill === PF_NODE_SIZE) {
        const done = this.encryptData(this.node);
        if (done) await done;
        this.fill = 0;
      }
    }
  }

  /** Flushes the last nodes and node 0. Returns the summary. */
  async finish(): Promise<PfWriteResult> {
    if (this.finished) throw new CconvError('E_INTERNAL', 'PfEncoder.finish called twice');
    if (this.expected !== undefined && this.size !== this.expected) {
      throw new CconvError('E_SIZE_MISMATCH', `plaintext is ${this.size} bytes, declared ${this.expected}`);
    }
    this.finished = true;
    if (this.fill > 0) {
      this.node.fill(0, this.fill); // zero padding of the last data node, as Gramine
      await this.encryptData(this.node);
      this.fill = 0;
    }
    if (this.gathering !== undefined) this.launch(this.gathering);
    await this.tail;
    this.pending.length = 0;
    if (this.failure) throw this.failure.error;
    // Close what is left, children (higher indices) before parents.
    const left = [...this.open.keys()].sort((a, b) => b - a);
    for (const j of left) {
      const m = this.open.get(j);
      if (m) {
        m.dataDone = true;
        await this.closeMht(j);
      }
    }
    await this.writeMetadata();
    this.node.fill(0);
    this.head.fill(0);
    return { size: this.size, nodes: nodeCounts(this.size).total, path: this.path };
  }

  /**
   * Adds data node `dataIndex` to the group being gathered; a full group is launched. Returns a
   * promise to await when GROUPS_IN_FLIGHT groups are already being encrypted (backpressure).
   */
  private encryptData(plain: Buffer): Promise<void> | undefined {
    const i = this.dataIndex++;
    const m = Math.floor(i / PF_DATA_PER_MHT);
    const slot = i % PF_DATA_PER_MHT;
    if (slot === 0) {
      this.open.set(m, { plain: Buffer.alloc(PF_NODE_SIZE), dataDone: false, closedChildren: 0 });
      this.gathering = { mht: m, start: dataNodePhysical(i), plain: Buffer.allocUnsafe(PF_DATA_PER_MHT * PF_NODE_SIZE), nodes: 0 };
    }
    const g = this.gathering!;
    plain.copy(g.plain, slot * PF_NODE_SIZE);
    g.nodes = slot + 1;
    if (slot < PF_DATA_PER_MHT - 1) return undefined;
    this.launch(g);
    return this.pending.length >= GROUPS_IN_FLIGHT ? this.drainOne() : undefined;
  }

  /** Starts encrypting `g`, and queues its completion (flush, MHT bookkeeping) after the earlier groups'. */
  private launch(g: Group): void {
    this.gathering = undefined;
    const sealed = this.seal(g);
    sealed.catch(() => {}); // observed through the tail
    this.tail = this.tail
      .then(async () => {
        const ct = await sealed;
        await this.sink(g.start, ct);
        const mht = this.open.get(g.mht)!;
        mht.dataDone = true;
        await this.maybeClose(g.mht);
      })
      .catch((error: unknown) => {
        this.failure ??= { error };
      });
    this.pending.push(this.tail);
  }

  /** Waits for the oldest group in flight to complete; throws the first failure. */
  private async drainOne(): Promise<void> {
    await this.pending.shift();
    if (this.failure) throw this.failure.error;
  }

  /** Encrypts the nodes of `g`, each under a fresh key; records keys and tags in its MHT node; zeroes the plaintext. */
  private async seal(g: Group): Promise<Buffer[]> {
    const k = g.nodes;
    const mht = this.open.get(g.mht)!;
    const plain = g.plain.subarray(0, k * PF_NODE_SIZE);
    try {
      if (nativeGcmNodes !== undefined) {
        const ct = Buffer.allocUnsafe(k * PF_NODE_SIZE);
        const keys = Buffer.alloc(k * PF_KEY_SIZE);
        const tags = Buffer.alloc(k * PF_MAC_SIZE);
        await nativeGcmNodes(plain, ct, keys, tags); // on the thread pool
        for (let s = 0; s < k; s++) {
          setMhtEntry(mht.plain, s, keys.subarray(s * PF_KEY_SIZE, (s + 1) * PF_KEY_SIZE), tags.subarray(s * PF_MAC_SIZE, (s + 1) * PF_MAC_SIZE));
        }
        keys.fill(0);
        return [ct];
      }
      const out: Buffer[] = [];
      for (let s = 0; s < k; s++) {
        const key = this.keys.next();
        const { ct, tag } = gcmEncrypt(key, plain.subarray(s * PF_NODE_SIZE, (s + 1) * PF_NODE_SIZE));
        setMhtEntry(mht.plain, s, key, tag);
        key.fill(0);
        out.push(ct);
      }
      return out;
    } finally {
      g.plain.fill(0);
    }
  }

  private async maybeClose(j: number): Promise<void> {
    const m = this.open.get(j);
    if (m && m.dataDone && m.closedChildren === PF_CHILDREN_PER_MHT) await this.closeMht(j);
  }

  private async closeMht(j: number): Promise<void> {
    const m = this.open.get(j)!;
    this.open.delete(j);
    const key = this.keys.next();
    const { ct, tag } = gcmEncrypt(key, m.plain);
    m.plain.fill(0);
    await this.sink(mhtNodePhysical(j), [ct]);
    if (j === 0) {
      this.rootKey = key;
      this.rootMac = tag;
      return;
    }
    const { parent, entry } = mhtParent(j);
    const p = this.open.get(parent);
    if (!p) throw new CconvError('E_INTERNAL', `MHT node ${parent} closed before its child ${j}`);
    setMhtEntry(p.plain, entry, key, tag);
    key.fill(0);
    p.closedChildren++;
    await this.maybeClose(parent);
  }

  private async writeMetadata(): Promise<void> {
    const nonce = randomBytes(PF_NONCE_SIZE);
    const mdKey = deriveMetadataKey(this.wrapKey, nonce); // fresh nonce => fresh key => zero IV is safe
    const plain = buildMetadata({
      path: this.path,
      size: this.size,
      rootKey: this.rootKey,
      rootMac: this.rootMac,
      data: this.head.subarray(0, Math.min(this.size, PF_MD_DATA_SIZE)),
    });
    const { ct, tag } = gcmEncrypt(mdKey, plain);
    plain.fill(0);
    mdKey.fill(0);
    this.rootKey.fill(0);
    const node0 = Buffer.alloc(PF_NODE_SIZE); // the 153 trailing bytes stay zero
    buildHeader(nonce, tag).copy(node0, 0);
    ct.copy(node0, PF_HEADER_SIZE, 0, PF_METADATA_ENCRYPTED_SIZE);
    await this.sink(0, [node0]);
  }
}
