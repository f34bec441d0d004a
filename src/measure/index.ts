/**
 * measure/: the Gramine signer's work without the signature. Complete a manifest into the exact
 * `.manifest.sgx` bytes (defaults, loader.entrypoint hash, trusted files expanded inside the image
 * root), lay out the enclave and compute MRENCLAVE and the SIGSTRUCT attributes.
 *
 * Typical use:
 *   const constants = await loadGramineConstants('1.9');
 *   const done = await completeManifest(tomlText, { constants, libos: libsysdbBytes, rootfs });
 *   const { mrenclave, attributes, isvProdId, isvSvn } =
 *     await computeMrenclave({ manifestSgx: done.bytes, libpal, constants });
 */
export type { EnclaveAttributes } from './attributes.ts';
export { enclaveAttributes } from './attributes.ts';
export type { GramineConstants, ManifestDefaults } from './constants.ts';
export { CONSTANTS_FORMAT, GRAMINE_RUNTIME_DIR, loadGramineConstants, parseGramineConstants } from './constants.ts';
export type { LoadSegment, PalElf } from './elf.ts';
export { parsePalElf } from './elf.ts';
export type { Area, AreaKind, EnclaveLayout, PalSegment } from './enclave.ts';
export { computeLayout, PAGEINFO } from './enclave.ts';
export type { CompletedManifest, CompleteOptions, ContentSource, SgxSettings } from './manifest.ts';
export { applyManifestDefaults, applySgxDefaults, cloneToml, completeManifest, readSgxSettings } from './manifest.ts';
export type { MrenclaveInput, MrenclaveResult } from './measure.ts';
export { computeMrenclave } from './measure.ts';
export { measureLayout } from './mrenclave.ts';
export { parseSize, pythonIntBase0 } from './size.ts';
export type { TomlTable, TomlValue } from './toml.ts';
export { dumpManifestToml, isTable, parseManifestToml, pyFloatRepr } from './toml.ts';
export type { ExpandOptions, TrustedFile, TrustedFileSpec } from './trusted.ts';
export { expandTrustedFiles, uriPath } from './trusted.ts';
