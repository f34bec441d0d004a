/** Trust policy: policy files, glob matching, and selecting trusted/allowed/encrypted files. */
export type { FileSelection, Policy, PolicyOverrides, PolicyRule, RuleType, SelectedFile } from './types.ts';
export { RULE_TYPES } from './types.ts';
export { globToRegExp, matchGlob } from './glob.ts';
export {
  compilePolicy,
  defaultPolicy,
  encryptedPathTest,
  DEFAULT_POLICY_URL,
  loadPolicy,
  parsePolicy,
  policyWithOverrides,
  type CompiledPolicy,
} from './policy.ts';
export { MAX_DIR_LINK_DEPTH, selectFiles, walkFilePaths } from './select.ts';
export { comparePaths } from '../rootfs/index.ts';
