/**
 * SIGSTRUCT attributes derived from a completed manifest's `sgx` table, as the reference signer
 * derives them (sgx_sign.py `get_enclave_attributes`, sigstruct.py defaults for the masks).
 *
 * Quirk kept on purpose: cpu_features are applied in the order avx, avx512, amx, then mpx, pkru.
 * SGX_XFRM_AVX512 (0xe4) includes the AVX bit (0x4), so `avx512 = "disabled"` clears the AVX bit
 * that `avx = "required"` set, while the mask keeps it.
 */
import { CconvError } from '../errors.ts';
import type { GramineConstants } from './constants.ts';
import { isTable, type TomlTable } from './toml.ts';

/** Enclave attributes and their masks, as written into SIGSTRUCT. */
export interface EnclaveAttributes {
  /** ATTRIBUTES.FLAGS: MODE64BIT, plus DEBUG when `sgx.debug = true`. */
  flags: bigint;
  /** ATTRIBUTES.XFRM. */
  xfrm: bigint;
  /** ATTRIBUTEMASK.FLAGS (SGX_FLAGS_MASK_CONST). */
  flagsMask: bigint;
  /** ATTRIBUTEMASK.XFRM: SGX_XFRM_MASK_CONST plus the bits of required/disabled features. */
  xfrmMask: bigint;
  /** MISCSELECT: EXINFO when `sgx.use_exinfo = true`. */
  miscSelect: number;
  /** MISCMASK (SGX_MISCSELECT_MASK_CONST). */
  miscMask: number;
  /** True when the DEBUG flag is set. */
  debug: boolean;
}

function applyFeatures(
  features: TomlTable,
  bits: Array<[string, bigint]>,
  start: { val: bigint; mask: bigint },
  hardened: boolean,
): { val: bigint; mask: bigint } {
  let { val, mask } = start;
  for (const [name, bit] of bits) {
    if (!Object.hasOwn(features, name)) continue;
    const setting = features[name];
    if (setting === 'required') {
      val |= bit;
      mask |= bit;
    } else if (setting === 'disabled') {
      val &= ~bit;
      mask |= bit;
    } else if (hardened || setting !== 'unspecified') {
      throw new CconvError('E_MANIFEST_TEMPLATE', `sgx.cpu_features.${name} has a disallowed value ${JSON.stringify(setting)}`, {
        hint: hardened ? 'use "required" or "disabled"' : 'use "required", "disabled" or "unspecified"',
      });
    }
  }
  return { val, mask };
}

/**
 * Derives the attributes from `sgx` (the manifest's sgx table, defaults applied). Only the
 * boolean `true` turns on debug/use_exinfo, as in the reference. Throws E_MANIFEST_TEMPLATE on a
 * disallowed cpu_features value.
 */
export function enclaveAttributes(sgx: TomlTable, c: GramineConstants): EnclaveAttributes {
  const debug = sgx.debug === true;
  const flags = (debug ? c.big('SGX_FLAGS_DEBUG') : 0n) | c.big('SGX_FLAGS_MODE64BIT');
  const miscSelect = sgx.use_exinfo === true ? c.num('SGX_MISCSELECT_EXINFO') : 0;
  let xfrm = { val: c.big('SGX_XFRM_LEGACY'), mask: c.big('SGX_XFRM_MASK_CONST') };
  if (Object.hasOwn(sgx, 'cpu_features')) {
    const features = sgx.cpu_features;
    if (!isTable(features)) throw new CconvError('E_MANIFEST_TEMPLATE', 'sgx.cpu_features must be a table');
    xfrm = applyFeatures(features, [
      ['avx', c.big('SGX_XFRM_AVX')],
      ['avx512', c.big('SGX_XFRM_AVX512')],
      ['amx', c.big('SGX_XFRM_AMX')],
    ], xfrm, false);
    xfrm = applyFeatures(features, [
      ['mpx', c.big('SGX_XFRM_MPX')],
      ['pkru', c.big('SGX_XFRM_PKRU')],
    ], xfrm, true);
  }
  return {
    flags,
    xfrm: xfrm.val,
    flagsMask: c.big('SGX_FLAGS_MASK_CONST'),
    xfrmMask: xfrm.mask,
    miscSelect,
    miscMask: c.num('SGX_MISCSELECT_MASK_CONST'),
    debug,
  };
}
