/**
 * Encrypted files: Gramine's protected-files format (reader and writer). Key generation, wrapping
 * and release policies live beside it in other files of this module.
 */
export { encryptFile, encryptToFile } from './pf/writer.ts';
export type { PfInput, PfWriteOptions } from './pf/writer.ts';
export type { PfWriteResult, NodeSink, PfEncoderOptions } from './pf/encoder.ts';
export { PfEncoder } from './pf/encoder.ts';
export { decryptFile, decryptToBuffer, readPfInfo } from './pf/reader.ts';
export type { PfSource } from './pf/reader.ts';
export { PfDecoder, openMetadata } from './pf/decoder.ts';
export type { PfInfo, PfReadOptions } from './pf/decoder.ts';
export { getNormPath, pfBoundPath } from './pf/path.ts';
export type { PfMount } from './pf/path.ts';
export { aesCmac, deriveMetadataKey, kdfInput } from './pf/kdf.ts';
export { PF_NODE_SIZE, PF_MD_DATA_SIZE, encryptedSize, nodeCounts } from './pf/format.ts';
export type { PfHeader, PfMetadata } from './pf/format.ts';
