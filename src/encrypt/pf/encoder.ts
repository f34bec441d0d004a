/**
 * Pure core of the protected-file writer: consumes plaintext in order and hands encrypted nodes to
 * a positional sink. No fs; the shell in writer.ts supplies the sink.
 *
 * Why positional output and not a stream in file order: node 0 holds the tag of the root MHT
 * node, whose content holds the tags of all its children, recursively, so node 0 and node 1 depend
 * on the whole file, and an MHT node (placed before its data nodes) depends on child MHT nodes
 * placed much later. No file-order stream can be produced without holding the whole ciphertext.
 * So each node is written at its own offset as soon as it is final:
 *   - data nodes per MHT group (<= 96 nodes, 384 KiB): the group's plaintext is gathered (one copy
 *     per input chunk), encrypted in one batch (by the native addon when built: in place, on the
 *     thread pool, one OpenSSL context re-keyed per node, and written there with pwrite when the
 *     encoder was given the output's fd) and written with one write;
 *   - MHT node j once its 96 data nodes and its (up to 32) child MHT nodes are written;
 *   - node 0 last.
 * Memory: GROUPS_IN_FLIGHT + 1 group buffers of 384 KiB (reused) + the decrypted MHT nodes still
 * waiting for children (4 KiB each: the ancestors of the current node plus, when the tree grows a
 * level, the nodes of the level above: at most about 1/32 of all MHT nodes, i.e. ~1 KiB per 3 MiB
 * of plaintext).
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
import { native } from './native.ts';
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

/**
 * Where the sink writes, when it is a file: the native encoder then writes the data nodes itself
 * (pwrite at `offset + node * 4096` of `fd`, on the thread pool); the sink gets the other nodes.
 */
export interface PfDirectOutput {
  fd: number;
  offset: number;
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
  /** GROUP_BYTES of plaintext (of which `nodes` whole nodes are used), then ciphertext. */
  buf: Buffer;
  nodes: number;
}

/** Plaintext bytes of a full group. */
const GROUP_BYTES = PF_DATA_PER_MHT * PF_NODE_SIZE;

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
  private size = 0;
  /** Groups started so far (the logical MHT index of the next one). */
  private groups = 0;
  /** The group being gathered and its byte count. */
  private gathering: Group | undefined;
  private fill = 0;
  /** Group buffers whose group is done (they hold ciphertext or zeros), for the next groups. */
  private readonly spare: Buffer[] = [];
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
    private readonly direct?: PfDirectOutput,
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
      const g = this.gathering ?? this.startGroup();
      const n = buf.copy(g.buf, this.fill, 0, Math.min(buf.length, GROUP_BYTES - this.fill));
      this.fill += n;
      this.size += n;
      buf = buf.subarray(n);
      if (this.fill === GROUP_BYTES) {
        this.launch(g);
        if (this.pending.length >= GROUPS_IN_FLIGHT) await this.drainOne(); // backpressure
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
    if (this.gathering !== undefined) {
      const end = Math.ceil(this.fill / PF_NODE_SIZE) * PF_NODE_SIZE;
      this.gathering.buf.fill(0, this.fill, end); // zero padding of the last data node, as Gramine
      this.launch(this.gathering);
    }
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
    this.head.fill(0);
    return { size: this.size, nodes: nodeCounts(this.size).total, path: this.path };
  }

  /** Opens MHT node `groups` and the group of its data nodes. */
  private startGroup(): Group {
    const m = this.groups++;
    this.open.set(m, { plain: Buffer.alloc(PF_NODE_SIZE), dataDone: false, closedChildren: 0 });
    this.gathering = { mht: m, start: dataNodePhysical(m * PF_DATA_PER_MHT), buf: this.spare.pop() ?? Buffer.allocUnsafe(GROUP_BYTES), nodes: 0 };
    this.fill = 0;
    return this.gathering;
  }

  /** Starts encrypting `g`, and queues its completion (flush, MHT bookkeeping) after the earlier groups'. */
  private launch(g: Group): void {
    g.nodes = Math.ceil(this.fill / PF_NODE_SIZE);
    this.gathering = undefined;
    this.fill = 0;
    const sealed = this.seal(g);
    sealed.catch(() => {}); // observed through the tail
    this.tail = this.tail
      .then(async () => {
        const ct = await sealed;
        if (ct.length > 0) await this.sink(g.start, ct);
        this.spare.push(g.buf);
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

  /**
   * Encrypts the nodes of `g`, each under a fresh key, recording keys and tags in its MHT node;
   * no plaintext stays in `g.buf`. Resolves to the ciphertext for the sink, or to nothing when the
   * native encoder wrote it to the direct output.
   */
  private async seal(g: Group): Promise<Buffer[]> {
    const k = g.nodes;
    const mht = this.open.get(g.mht)!;
    const plain = g.buf.subarray(0, k * PF_NODE_SIZE);
    if (native !== undefined) {
      // In place, on the thread pool (the addon cleanses the buffer if it fails).
      const d = this.direct;
      await native.sealGroup(plain, mht.plain, d?.fd ?? -1, d ? d.offset + g.start * PF_NODE_SIZE : 0);
      return d ? [] : [plain];
    }
    try {
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
      plain.fill(0);
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
