/** pipeline/: the stages of a build wired together (runtime, measurement, signing). */
export { loadRuntimeDir, loadRuntimeImage } from './runtime.ts';
export type { GramineRuntime, RuntimeOptions, RuntimeTrustedFile } from './runtime.ts';
export { measureImage } from './measure.ts';
export type { MeasuredIdentity, MeasuredImage, MeasureOptions } from './measure.ts';
export { identityJson, signMeasured } from './sign.ts';
export type { MeasuredIdentityJson } from './sign.ts';
