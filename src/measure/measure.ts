/**
 * MRENCLAVE and the SIGSTRUCT inputs of a completed manifest, as `gramine-sgx-sign` derives them
 * (`get_mrenclave_and_manifest` + `get_tbssigstruct` minus the date and the signature).
 */
import { CconvError } from '../errors.ts';
import { enclaveAttributes, type EnclaveAttributes } from './attributes.ts';
import type { GramineConstants } from './constants.ts';
import { computeLayout, type Area } from './enclave.ts';
import { parsePalElf } from './elf.ts';
import { applySgxDefaults, cloneToml, readSgxSettings, type SgxSettings } from './manifest.ts';
import { measureLayout } from './mrenclave.ts';
import { isTable, parseManifestToml, type TomlTable } from './toml.ts';

/** Input of `computeMrenclave`. */
export interface MrenclaveInput {
  /** The exact `.manifest.sgx` bytes (e.g. `completeManifest(...).bytes`). */
  manifestSgx: Buffer;
  /** The SGX PAL file (`sgx/libpal.so`), whole. */
  libpal: Buffer;
  constants: GramineConstants;
  /**
   * The document `manifestSgx` was dumped from, when the caller has it (completeManifest's
   * `manifest`): only its `sgx` settings are read, which spares re-parsing every trusted file.
   */
  manifest?: TomlTable;
}

/** A copy of the sgx table of `m` without its trusted files (the layout does not depend on them). */
function sgxSettingsOf(m: TomlTable): TomlTable {
  if (!isTable(m.sgx)) return {};
  return { sgx: cloneToml({ ...m.sgx, trusted_files: [] }) };
}

/** Everything SIGSTRUCT needs besides the date and the key. */
export interface MrenclaveResult {
  /** Lowercase hex SHA-256 (64 digits); SIGSTRUCT.ENCLAVEHASH is its 32 raw bytes. */
  mrenclave: string;
  attributes: EnclaveAttributes;
  isvProdId: number;
  isvSvn: number;
  settings: SgxSettings;
  /** The memory areas in measurement order (addresses from the enclave base). */
  layout: Area[];
}

/**
 * Computes MRENCLAVE over `manifestSgx` + NUL and the PAL as the reference does. The sgx defaults
 * are applied to a parsed copy for the layout (a completed manifest is a fixed point), but the
 * measured bytes are `manifestSgx` exactly.
 * Errors: E_MANIFEST_TEMPLATE (TOML/values), E_ENCLAVE_LAYOUT (sizes), E_ELF_INVALID (libpal).
 */
export async function computeMrenclave(input: MrenclaveInput): Promise<MrenclaveResult> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(input.manifestSgx);
  } catch (err) {
    throw new CconvError('E_MANIFEST_TEMPLATE', 'manifest is not valid UTF-8', { cause: err });
  }
  const doc = input.manifest !== undefined ? sgxSettingsOf(input.manifest) : cloneToml(parseManifestToml(text));
  const sgx = applySgxDefaults(doc, input.constants);
  const settings = readSgxSettings(sgx);
  const attributes = enclaveAttributes(sgx, input.constants);
  const pal = parsePalElf(input.libpal);
  const layout = computeLayout({ manifestSgx: input.manifestSgx, settings, pal, constants: input.constants });
  const c = input.constants;
  const mrenclave = await measureLayout(layout, input.libpal, c.num('PAGESIZE'), c.num('SSA_FRAME_SIZE'));
  return { mrenclave, attributes, isvProdId: settings.isvProdId, isvSvn: settings.isvSvn, settings, layout: layout.areas };
}
