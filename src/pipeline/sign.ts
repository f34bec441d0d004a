/**
 * Signing a measured image: SIGSTRUCT over its MRENCLAVE and attributes, giving MRSIGNER. The
 * reported identity is read back from the signed SIGSTRUCT, so what is printed is what is signed.
 */
import {
  enclaveIdentityOf,
  identityAttributes,
  parseSigstruct,
  signSigstruct,
  type EnclaveIdentity,
  type Signer,
  type SigstructDate,
  type UnsignedIdentity,
} from '../enclave/index.ts';
import type { MeasuredIdentity, MeasuredImage } from './measure.ts';

/** A measured identity in the JSON form `cconv gramine sign` prints, without MRSIGNER and date. */
export type MeasuredIdentityJson = Omit<UnsignedIdentity, 'date'>;

/** Converts a measured (unsigned) identity to its JSON form. */
export function identityJson(id: MeasuredIdentity): MeasuredIdentityJson {
  return { mrenclave: id.mrenclave, isvProdId: id.isvProdId, isvSvn: id.isvSvn, debug: id.debug, attributes: identityAttributes(id.attributes) };
}

/** Signs `measured` with `signer`; the signature is verified before it is returned. */
export async function signMeasured(
  measured: Pick<MeasuredImage, 'identity'>,
  options: { signer: Signer; date: SigstructDate },
): Promise<{ sigstruct: Buffer; identity: EnclaveIdentity }> {
  const id = measured.identity;
  const { sigstruct } = await signSigstruct({
    mrenclave: id.mrenclave,
    attributes: id.attributes,
    isvProdId: id.isvProdId,
    isvSvn: id.isvSvn,
    date: options.date,
    debug: id.debug,
    signer: options.signer,
  });
  return { sigstruct, identity: enclaveIdentityOf(parseSigstruct(sigstruct)) };
}
