/** The Gramine runtime: manifest template, settings, and rendering from an image. */
export type {
  AddedFile,
  GramineSettings,
  HardeningCpuFeature,
  LogLevel,
  ManifestTable,
  ManifestValue,
  OptionalCpuFeature,
  RenderedManifest,
  RenderInput,
} from './types.ts';
export {
  DEFAULT_GRAMINE_SETTINGS,
  loadGramineConfig,
  mergeSettings,
  parseGramineConfig,
  resolveSettings,
  validateSettings,
} from './settings.ts';
export { GRAMINE_TEMPLATE_URL, loadTemplate, parseTemplate, substitute, type TemplateVars } from './template.ts';
export { DEFAULT_CONTAINER_PATH, findExecutable, imageArgv, imageEnv, imageWorkdir, serializeArgv } from './entrypoint.ts';
export { resolveUser, type ResolvedUser } from './user.ts';
export { mergeFragment, PROTECTED_KEYS, sameValue, type MergeContext } from './merge.ts';
export { renderManifest, SETTING_KEYS } from './render.ts';
export { checkUntrustedCode, findUntrustedCode, type AllowedEntry, type AllowedOrigin, type UntrustedCode, type UntrustedCodeInput } from './untrusted-code.ts';
