/**
 * A test SGX platform: makes DCAP quotes (version 3, ECDSA P-256) the way Intel's quoting enclave
 * does, signed through the test PKI of kbs-pki.ts. Layout as in src/kbs/report.ts: header (48),
 * ISV report body (384), signature data length, then ISV signature, attestation key, QE report, QE
 * report signature (by the PCK key), QE auth data, certification data type 5 (the PCK chain, PEM).
 * The QE report's REPORTDATA is SHA-256(attestation key || QE auth data), as dcap-qvl checks.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { PLATFORM, QE, type TestPki } from './kbs-pki.ts';

/** The enclave a quote is for. */
export interface TestEnclave {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  debug?: boolean;
  /** ATTRIBUTES.FLAGS to use instead of INIT | MODE64BIT (| DEBUG). */
  flags?: bigint;
}

/** An example identity for tests. */
export const ENCLAVE: TestEnclave = { mrenclave: 'aa'.repeat(32), mrsigner: 'bb'.repeat(32), isvProdId: 7, isvSvn: 3 };

const INTEL_QE_VENDOR_ID = Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex');

/** A 384-byte report body. `flags` are ATTRIBUTES.FLAGS; XFRM is 0xe7 as on the real quote. */
export function reportBody(f: { cpuSvn?: number[]; flags: bigint; mrenclave: string; mrsigner: string; isvProdId: number; isvSvn: number; reportData: Uint8Array }): Buffer {
  const b = Buffer.alloc(384);
  Buffer.from(f.cpuSvn ?? Array(16).fill(0)).copy(b, 0);
  b.writeBigUInt64LE(f.flags, 48);
  b.writeBigUInt64LE(0xe7n, 56);
  Buffer.from(f.mrenclave, 'hex').copy(b, 64);
  Buffer.from(f.mrsigner, 'hex').copy(b, 128);
  b.writeUInt16LE(f.isvProdId, 256);
  b.writeUInt16LE(f.isvSvn, 258);
  Buffer.from(f.reportData).copy(b, 320, 0, 64);
  return b;
}

/** A platform that quotes: its attestation key is certified by the QE report the PCK key signs. */
export interface TestPlatform {
  quote(enclave: TestEnclave, reportData: Uint8Array): Buffer;
}

/** Makes a platform on the test PKI. */
export function createTestPlatform(pki: TestPki): TestPlatform {
  const attestation = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = attestation.publicKey.export({ format: 'jwk' });
  const attKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const qeAuthData = Buffer.alloc(32, 0x42);
  const qeReportData = Buffer.concat([createHash('sha256').update(attKey).update(qeAuthData).digest(), Buffer.alloc(32)]);
  const qeReport = reportBody({ cpuSvn: PLATFORM.cpuSvn, flags: 0x11n, mrenclave: 'cc'.repeat(32), mrsigner: QE.mrsigner, isvProdId: QE.isvProdId, isvSvn: QE.isvSvn, reportData: qeReportData });
  const raw = (data: Buffer, key: KeyObject) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  const qeReportSig = raw(qeReport, pki.pckKey);
  const certData = Buffer.from(`${pki.pckChainPem}\0`);

  return {
    quote(enclave, reportData) {
      const header = Buffer.alloc(48);
      header.writeUInt16LE(3, 0);
      header.writeUInt16LE(2, 2);
      header.writeUInt32LE(0, 4);
      header.writeUInt16LE(QE.isvSvn, 8);
      header.writeUInt16LE(PLATFORM.pceSvn, 10);
      INTEL_QE_VENDOR_ID.copy(header, 12);
      const flags = enclave.flags ?? 0x05n | (enclave.debug ? 0x02n : 0n);
      const body = reportBody({ cpuSvn: PLATFORM.cpuSvn, ...enclave, flags, reportData });
      const signed = Buffer.concat([header, body]);
      const certHead = Buffer.alloc(6);
      certHead.writeUInt16LE(5, 0);
      certHead.writeUInt32LE(certData.length, 2);
      const authSize = Buffer.alloc(2);
      authSize.writeUInt16LE(qeAuthData.length, 0);
      const sigData = Buffer.concat([raw(signed, attestation.privateKey), attKey, qeReport, qeReportSig, authSize, qeAuthData, certHead, certData]);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(sigData.length, 0);
      return Buffer.concat([signed, len, sigData]);
    },
  };
}
