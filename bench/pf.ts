/**
 * Protected-files throughput: encrypts and decrypts 256 MiB generated on the fly and prints MB/s
 * next to Node's raw AES-128-GCM over one big buffer, measured in the same run, and the ratio.
 * Each figure is the best of 3 runs after a warm-up (the machine may be shared).
 * Run: node --import=tsx bench/pf.ts [MiB]
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PfEncoder, decryptFile, encryptToFile } from '../src/encrypt/index.ts';

const MIB = 1 << 20;
const total = Number(process.argv[2] ?? 256) * MIB;
const key = randomBytes(16);
const chunk = randomBytes(MIB);
const IV = Buffer.alloc(12);

/** 1 MiB chunks of random bytes (the same chunk repeated) up to `total`. */
function source(): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, MIB);
      left -= n;
      this.push(n === MIB ? chunk : chunk.subarray(0, n));
    },
  });
}

/** Best throughput in MB/s of `runs` runs of fn over `total` bytes. */
async function best(fn: () => Promise<void> | void, runs = 3): Promise<number> {
  let ms = Infinity;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return total / 1e6 / (ms / 1000);
}

const big = Buffer.alloc(total, 1);
const node = Buffer.alloc(4096, 1);
const keys = randomBytes(16 * 4096);
await best(() => void createCipheriv('aes-128-gcm', key, IV).update(big.subarray(0, 64 * MIB)), 1); // warm-up

const raw = await best(() => {
  const c = createCipheriv('aes-128-gcm', key, IV);
  c.update(big);
  c.final();
});
// The floor of any protected-files code on Node's API: one createCipheriv per 4 KiB node.
const perNode = await best(() => {
  for (let o = 0, i = 0; o < total; o += 4096, i = (i + 1) % 4096) {
    const c = createCipheriv('aes-128-gcm', keys.subarray(i * 16, i * 16 + 16), IV);
    c.update(node);
    c.final();
    c.getAuthTag();
  }
});
const encCore = await best(async () => {
  const core = new PfEncoder({ key, path: '/bench' }, async () => {});
  for await (const b of source()) await core.write(b as Buffer);
  await core.finish();
});

const dir = mkdtempSync(join(tmpdir(), 'cconv-pf-bench-'));
try {
  const file = join(dir, 'bench.pf');
  const encFile = await best(async () => {
    await encryptToFile(source(), file, { key, path: file, size: total });
  });
  const dec = await best(async () => {
    let got = 0;
    for await (const b of decryptFile(file, { key, path: file })) got += (b as Buffer).length;
    if (got !== total) throw new Error(`decrypted ${got} of ${total} bytes`);
  });

  const row = (name: string, v: number) =>
    console.log(`${name.padEnd(44)} ${v.toFixed(0).padStart(6)} MB/s   ratio raw/this ${(raw / v).toFixed(2)}x`);
  console.log(`protected files, ${total / MIB} MiB, node ${process.version}, best of 3`);
  row('raw aes-128-gcm, one key, one big buffer', raw);
  row('aes-128-gcm, fresh key per 4 KiB node (floor)', perNode);
  row('PF encrypt, core only (no I/O)', encCore);
  row('PF encrypt to file (encryptToFile)', encFile);
  row('PF decrypt from file (decryptFile)', dec);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
