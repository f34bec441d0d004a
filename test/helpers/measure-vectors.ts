/**
 * Test helper (not a test) for measure/: reads the Gramine golden signing vectors from
 * test/vectors at run time (see its README.md) and builds case b's image root with the real
 * `flatten` over a fake single-layer image whose uncompressed layer is `rootfs.tar`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import type { Layer } from '../../src/image/image.ts';
import type { Digest } from '../../src/image/types.ts';
import { loadGramineConstants, type GramineConstants } from '../../src/measure/index.ts';
import { flatten } from '../../src/rootfs/index.ts';
import type { Rootfs } from '../../src/rootfs/types.ts';
import { VECTORS } from './enclave-vectors.ts';

/** The vectors folder (absolute, with a trailing '/'), defined in enclave-vectors.ts. */
export { VECTORS };

/** Reads a vector file. */
export function vec(rel: string): Buffer {
  return readFileSync(`${VECTORS}${rel}`);
}

/** Parsed JSON of a vector file. */
export function vecJson<T = any>(rel: string): T {
  return JSON.parse(vec(rel).toString('utf8')) as T;
}

/** One case of sgx-sign/index.json. */
export interface SignCase {
  case: string;
  dir: string;
  mrenclave: string;
}

/** All signing cases. */
export function signCases(): SignCase[] {
  return vecJson<{ cases: SignCase[] }>('sgx-sign/index.json').cases;
}

/** The case's vector.json. */
export function caseVector(c: SignCase): any {
  return vecJson(`sgx-sign/${c.dir}/vector.json`);
}

/** A case file as bytes. */
export function caseFile(c: SignCase, name: string): Buffer {
  return vec(`sgx-sign/${c.dir}/${name}`);
}

/** The PAL stand-in the vectors were signed with. */
export function libpal(): Buffer {
  return vec('inputs/libpal-standin/libpal.so');
}

/** The LibOS stand-in (its sha256 goes into loader.entrypoint). */
export function libsysdb(): Buffer {
  return vec('inputs/libsysdb-standin/libsysdb.so');
}

/** The Gramine 1.9 constants shipped in runtimes/gramine/. */
export function constants(): Promise<GramineConstants> {
  return loadGramineConstants('1.9');
}

/** Case b's chroot as a flattened Rootfs (hash: whether flatten precomputes sha256). */
export async function caseBRootfs(hash = true): Promise<Rootfs> {
  const tarPath = `${VECTORS}sgx-sign/b-debug-chroot-trusted/rootfs.tar`;
  const digest = `sha256:${createHash('sha256').update(readFileSync(tarPath)).digest('hex')}` as Digest;
  const layer: Layer = {
    index: 0,
    descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: readFileSync(tarPath).length },
    diffId: digest,
    compression: 'none',
    openCompressed: async () => createReadStream(tarPath),
    openStored: async () => createReadStream(tarPath),
    openUncompressed: async () => createReadStream(tarPath),
  };
  return flatten({ layers: [layer] }, { hash });
}
