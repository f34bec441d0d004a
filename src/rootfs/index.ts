/** The rootfs module: the flattened, streaming view of an image's layers. */

/** Flattens an image's layers into a `Rootfs` (metadata tree; contents re-read on demand). */
export { flatten } from './flatten.ts';
export { layerMembers } from './layer-members.ts';
export { translateLayerError } from './errors.ts';
/** Depth-first path order (component by component, bytewise UTF-8) and name order (bytewise UTF-8). */
export { comparePaths, compareNames } from './paths.ts';
export type { TarEntry } from './tar-reader.ts';
/** Linux's limit of symlinks followed by `Rootfs.resolve`, and `readFile`'s default size cap. */
export { MAX_SYMLINKS, DEFAULT_READ_FILE_MAX } from './view.ts';
/** Contracts of the view. */
export type { ContentVisitor, EntryType, FlattenLimits, FlattenOptions, Rootfs, RootfsEntry, RootfsTotals } from './types.ts';
/** flatten's default bounds (FlattenOptions.limits raises or lowers them). */
export { DEFAULT_FLATTEN_LIMITS } from './limits.ts';
/** Several whole files of an image in one pass over its layers. */
export { readFiles } from './read-files.ts';
/** The library directories an image's /etc/ld.so.conf (and its includes) lists. */
export { ldSoConfDirs, LD_SO_CONF } from './ld-so-conf.ts';
