/**
 * Test helper (not a test): loads the Gramine golden signing vectors from test/vectors (see its
 * README.md and PROVENANCE.md) at run time. Expected values always come from these files.
 * This file holds the one definition of the vectors folder; other tests and the benchmark import it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SigstructRequest } from '../../src/enclave/index.ts';
import { parseSigstructDate } from '../../src/enclave/index.ts';

/** The vectors folder, test/vectors/, as a file URL (with a trailing '/'). */
export const VECTORS_URL = new URL('../vectors/', import.meta.url);

/** The vectors folder (absolute path, with a trailing '/'). */
export const VECTORS = fileURLToPath(VECTORS_URL);

/** Absolute path of a file in the vectors folder. */
export function vectorPath(rel: string): string {
  return `${VECTORS}${rel}`;
}

/** One SIGSTRUCT field as vector.json lists it. */
export interface VectorField {
  offset: string;
  format: string;
  value: string | number;
}

/** One signing case with what the tests need. */
export interface SignCase {
  name: string;
  dir: string;
  mrenclave: string;
  mrsigner: string;
  vector: {
    outputs: {
      mrenclave: string;
      mrsigner: string;
      sigstruct_hex: string;
      signed_data_hex: string;
      attributes: Record<string, string | number>;
      sigstruct_fields: Record<string, VectorField>;
      sigstruct_view_tool_output: Record<string, unknown>;
    };
  };
  /** vector.json as text, for integers JSON.parse cannot hold exactly. */
  vectorText: string;
  appSig: Buffer;
}

/** The cases of sgx-sign/index.json, each with its vector.json and app.sig. */
export function loadSignCases(): SignCase[] {
  const index = JSON.parse(readFileSync(vectorPath('sgx-sign/index.json'), 'utf8')) as {
    cases: Array<{ case: string; dir: string; mrenclave: string; mrsigner: string }>;
  };
  return index.cases.map((c) => {
    const vectorText = readFileSync(vectorPath(`sgx-sign/${c.dir}/vector.json`), 'utf8');
    return {
      name: c.case,
      dir: c.dir,
      mrenclave: c.mrenclave,
      mrsigner: c.mrsigner,
      vector: JSON.parse(vectorText),
      vectorText,
      appSig: readFileSync(vectorPath(`sgx-sign/${c.dir}/app.sig`)),
    };
  });
}

/** The exact integer `value` of sigstruct field `name`, read from the text of vector.json. */
export function exactFieldValue(c: SignCase, name: string): bigint {
  const m = new RegExp(`"${name}":\\s*\\{[^}]*?"value":\\s*(\\d+)`).exec(c.vectorText);
  if (!m?.[1]) throw new Error(`no integer value for ${name} in ${c.name}`);
  return BigInt(m[1]);
}

/** The signing request of a case, built from its vector.json fields only. */
export function requestOf(c: SignCase): SigstructRequest {
  const a = c.vector.outputs.attributes;
  return {
    mrenclave: c.vector.outputs.mrenclave,
    attributes: {
      flags: BigInt(a.flags as string),
      xfrm: BigInt(a.xfrm as string),
      xfrmMask: BigInt(a.xfrm_mask as string),
      flagsMask: BigInt(a.flags_mask as string),
      miscSelect: Number(a.misc_select),
      miscMask: Number(a.misc_mask),
    },
    isvProdId: a.isv_prod_id as number,
    isvSvn: a.isv_svn as number,
    date: parseSigstructDate(a.date as string),
  };
}

/** Key files of keys/. */
export const KEY_PKCS1 = vectorPath('keys/test-enclave-key-rsa3072-e3.pem');
export const KEY_PKCS8 = vectorPath('keys/test-enclave-key-rsa3072-e3.pkcs8.pem');
export const KEY_PUBLIC = vectorPath('keys/test-enclave-key-rsa3072-e3.pub.pem');

/** A copy of `buf` with bit 0 of byte `offset` flipped. */
export function flipByte(buf: Buffer, offset: number): Buffer {
  const out = Buffer.from(buf);
  out.writeUInt8(out.readUInt8(offset) ^ 1, offset);
  return out;
}
