/** pipeline/: the stages of a build wired together (runtime, measurement, signing). */
export { loadRuntimeDir, loadRuntimeImage } from './runtime.ts';
export type { GramineRuntime, RuntimeOptions, RuntimeTrustedFile } from './runtime.ts';
export { measureImage } from './measure.ts';
export type { MeasuredIdentity, MeasuredImage, MeasureOptions } from './measure.ts';
export { identityJson, signMeasured } from './sign.ts';
export type { MeasuredIdentityJson } from './sign.ts';
export { buildImage, APP_NAME, CCONV_DIR } from './build.ts';
export type { BuildInput, BuildOutput } from './build.ts';
export { encryptSelected } from './encrypt.ts';
export type { EncryptedFiles } from './encrypt.ts';
export { keyProvisioningFragment } from './key-provisioning.ts';
export type { SecretProvisioning } from './key-provisioning.ts';
export { verifyConfidentialImage } from './verify.ts';
export type { VerifyImageOptions, VerifyImageResult } from './verify.ts';
export { closureProblem, HOST_DIR, hostDir, hostLoaderArgv, planHostLoader } from './host-loader.ts';
export type { HostLoader } from './host-loader.ts';
export { chooseGramineVersion, detectGramineVersion, GRAMINE_SGX_SCRIPT, versionSeries } from './runtime-version.ts';
export type { DetectedVersion } from './runtime-version.ts';
