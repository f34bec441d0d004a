/**
 * A test stand-in for Intel's SGX PKI, made at test time with node:crypto and kbs-der.ts, with the
 * shape of the real one (test/vectors/dcap/ is the model): a self-signed root CA, a "PCK Processor
 * CA", a PCK certificate carrying the SGX extension (1.2.840.113741.1.13.1: PPID, TCB with 16 CPU
 * SVN components + PCESVN + CPUSVN, PCE-ID, FMSPC, SGX type), a TCB-signing certificate, the two
 * CRLs, and TCB info + QE identity JSON signed like Intel's (ECDSA P-256, hex r||s). Every key is
 * P-256, as Intel's. Only the root differs from production, and src/kbs accepts it only with
 * insecureTestRoot.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { certificate, crl, der, name, pem } from './kbs-der.ts';

const DAY = 86400;
const PCK_SERIAL = 3;
const SGX = '1.2.840.113741.1.13.1';

/** The platform's TCB as its PCK certificate states it. */
export const PLATFORM = {
  fmspc: '00a067110000',
  pceId: '0000',
  cpuSvn: [11, 11, 2, 2, 255, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 13,
};

/** The test quoting enclave's identity (what QE identity pins). */
export const QE = { mrsigner: '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff', isvProdId: 1, isvSvn: 8 };

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

/** Options of createTestPki. */
export interface TestPkiOptions {
  /** Unix seconds the collateral is issued at (window: now - 1 day .. now + 29 days). */
  now: number;
  /** TCB status of the platform's level in TCB info; default UpToDate. */
  tcbStatus?: string;
  advisoryIds?: string[];
  /** Put the PCK certificate on the PCK CRL. */
  revokePck?: boolean;
  /** Sign the PCK CRL with the root instead of the PCK CA (a CRL of another CA). */
  pckCrlByRoot?: boolean;
}

/** The PKI and what a test platform signs with. */
export interface TestPki {
  rootDer: Buffer;
  /** PEM chain PCK, PCK CA, root: the quote's certification data. */
  pckChainPem: string;
  pckKey: KeyObject;
  /** Collateral as a PCCS would serve it (the JSON dcap-qvl takes). */
  collateral: Record<string, string>;
  /** Collateral with other TCB info / QE identity dates or statuses, signed by the same keys. */
  collateralWith(options: Partial<TestPkiOptions>): Record<string, string>;
}

/** Makes a fresh test PKI. */
export function createTestPki(options: TestPkiOptions): TestPki {
  const validity = { notBefore: options.now - 365 * DAY, notAfter: options.now + 5 * 365 * DAY };
  const root = keyPair();
  const rootName = name('Test SGX Root CA');
  const caExt = der.seq(der.oid('2.5.29.19'), der.bool(true), der.octets(der.seq(der.bool(true))));
  const leafExt = der.seq(der.oid('2.5.29.19'), der.bool(true), der.octets(der.seq()));
  const rootDer = certificate({ serial: 1, issuer: rootName, subject: rootName, publicKey: root.publicKey, signer: root.privateKey, ...validity, extensions: [caExt] });

  const pckCa = keyPair();
  const pckCaName = name('Test SGX PCK Processor CA');
  const pckCaDer = certificate({ serial: 2, issuer: rootName, subject: pckCaName, publicKey: pckCa.publicKey, signer: root.privateKey, ...validity, extensions: [caExt] });

  const pck = keyPair();
  const sgxExtension = der.seq(der.oid(SGX), der.octets(pckExtension()));
  const pckDer = certificate({ serial: PCK_SERIAL, issuer: pckCaName, subject: name('Test SGX PCK Certificate'), publicKey: pck.publicKey, signer: pckCa.privateKey, ...validity, extensions: [leafExt, sgxExtension] });

  const tcbSigner = keyPair();
  const tcbSignerDer = certificate({ serial: 4, issuer: rootName, subject: name('Test SGX TCB Signing'), publicKey: tcbSigner.publicKey, signer: root.privateKey, ...validity, extensions: [leafExt] });

  const hexSig = (text: string) => sign('sha256', Buffer.from(text), { key: tcbSigner.privateKey, dsaEncoding: 'ieee-p1363' }).toString('hex');
  const collateralWith = (o: Partial<TestPkiOptions>): Record<string, string> => {
    const now = o.now ?? options.now;
    const window = { issueDate: iso(now - DAY), nextUpdate: iso(now + 29 * DAY) };
    const tcbInfo = JSON.stringify({
      id: 'SGX',
      version: 3,
      ...window,
      fmspc: PLATFORM.fmspc.toUpperCase(),
      pceId: PLATFORM.pceId,
      tcbType: 0,
      tcbEvaluationDataNumber: 17,
      tcbLevels: [
        {
          tcb: { sgxtcbcomponents: PLATFORM.cpuSvn.map((svn) => ({ svn })), pcesvn: PLATFORM.pceSvn },
          tcbDate: '2024-03-13T00:00:00Z',
          tcbStatus: o.tcbStatus ?? options.tcbStatus ?? 'UpToDate',
          advisoryIDs: o.advisoryIds ?? options.advisoryIds ?? [],
        },
        { tcb: { sgxtcbcomponents: PLATFORM.cpuSvn.map(() => ({ svn: 0 })), pcesvn: 0 }, tcbDate: '2018-01-04T00:00:00Z', tcbStatus: 'OutOfDate', advisoryIDs: ['INTEL-SA-00000'] },
      ],
    });
    const qeIdentity = JSON.stringify({
      id: 'QE',
      version: 2,
      ...window,
      tcbEvaluationDataNumber: 17,
      miscselect: '00000000',
      miscselectMask: 'FFFFFFFF',
      attributes: '11000000000000000000000000000000',
      attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
      mrsigner: QE.mrsigner.toUpperCase(),
      isvprodid: QE.isvProdId,
      tcbLevels: [{ tcb: { isvsvn: QE.isvSvn }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
    });
    const crlWindow = { thisUpdate: now - DAY, nextUpdate: now + 29 * DAY };
    return {
      pck_crl_issuer_chain: pem(pckCaDer) + pem(rootDer),
      root_ca_crl: crl({ issuer: rootName, signer: root.privateKey, ...crlWindow }).toString('hex'),
      pck_crl: (o.pckCrlByRoot
        ? crl({ issuer: rootName, signer: root.privateKey, ...crlWindow })
        : crl({ issuer: pckCaName, signer: pckCa.privateKey, ...crlWindow, revoked: o.revokePck ? [99, PCK_SERIAL] : [99] })
      ).toString('hex'),
      tcb_info_issuer_chain: pem(tcbSignerDer) + pem(rootDer),
      tcb_info: tcbInfo,
      tcb_info_signature: hexSig(tcbInfo),
      qe_identity_issuer_chain: pem(tcbSignerDer) + pem(rootDer),
      qe_identity: qeIdentity,
      qe_identity_signature: hexSig(qeIdentity),
    };
  };
  return { rootDer, pckChainPem: pem(pckDer) + pem(pckCaDer) + pem(rootDer), pckKey: pck.privateKey, collateral: collateralWith({}), collateralWith };
}

const iso = (secs: number) => new Date(secs * 1000).toISOString().replace('.000Z', 'Z');

/** The SGX extension of a PCK certificate, laid out as Intel's (SEQUENCE of { OID, value }). */
function pckExtension(): Buffer {
  const item = (arc: string, value: Buffer) => der.seq(der.oid(`${SGX}.${arc}`), value);
  const tcb = der.seq(
    ...PLATFORM.cpuSvn.map((svn, i) => item(`2.${i + 1}`, der.int(svn))),
    item('2.17', der.int(PLATFORM.pceSvn)),
    item('2.18', der.octets(Buffer.from(PLATFORM.cpuSvn))),
  );
  return der.seq(
    item('1', der.octets(Buffer.alloc(16, 0x5a))),
    item('2', tcb),
    item('3', der.octets(Buffer.from(PLATFORM.pceId, 'hex'))),
    item('4', der.octets(Buffer.from(PLATFORM.fmspc, 'hex'))),
    item('5', der.enumerated(0)),
  );
}
