/** Validation of a ReleaseIdentity before it goes into a policy or an envelope. */
import { CconvError } from '../../errors.ts';
import type { ReleaseIdentity } from './types.ts';

const HEX64 = /^[0-9a-fA-F]{64}$/;

function u16(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new CconvError('E_USAGE', `enclave identity: ${name} must be an integer 0..65535`);
  }
  return v;
}

/**
 * Checks an identity and returns a normalised copy (measurements lowercased). E_USAGE when a
 * measurement is not 64 hex digits, an ISV value is out of 0..65535 or debug is not a boolean.
 */
export function checkReleaseIdentity(id: ReleaseIdentity): ReleaseIdentity {
  for (const name of ['mrenclave', 'mrsigner'] as const) {
    if (typeof id[name] !== 'string' || !HEX64.test(id[name])) {
      throw new CconvError('E_USAGE', `enclave identity: ${name} must be 64 hex digits`);
    }
  }
  if (typeof id.debug !== 'boolean') throw new CconvError('E_USAGE', 'enclave identity: debug must be a boolean');
  return {
    mrenclave: id.mrenclave.toLowerCase(),
    mrsigner: id.mrsigner.toLowerCase(),
    isvProdId: u16(id.isvProdId, 'isvProdId'),
    isvSvn: u16(id.isvSvn, 'isvSvn'),
    debug: id.debug,
  };
}

/** The warning every generator gives for a debug enclave (its memory is readable by the host). */
export const DEBUG_WARNING =
  'the enclave is a DEBUG build: its memory can be read by the host, so releasing a key to it protects nothing; use debug builds for testing only';
