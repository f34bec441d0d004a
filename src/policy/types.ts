/**
 * Trust-policy types. A policy is an ordered list of rules; each rule gives a class to the files
 * whose absolute in-image path matches one of its patterns. Evaluation is last-match-wins.
 */

/** What a rule does with the files it matches. */
export type RuleType = 'trust' | 'allow' | 'exclude' | 'encrypt';

/** The rule types, in the order `policyWithOverrides` appends CLI overrides. */
export const RULE_TYPES: readonly RuleType[] = ['trust', 'allow', 'encrypt', 'exclude'];

/** One rule of a policy file (`type` is the discriminator, as in containers/image policies). */
export interface PolicyRule {
  readonly type: RuleType;
  /** Absolute globs (see glob.ts); a rule matches a path when any of them does. */
  readonly paths: readonly string[];
  /** Free text explaining the rule; ignored by evaluation. */
  readonly comment?: string;
}

/** A parsed, validated policy (format version 1). */
export interface Policy {
  readonly version: 1;
  readonly description?: string;
  readonly rules: readonly PolicyRule[];
}

/** CLI-level additions (`--trust GLOB` ...), appended to a policy by `policyWithOverrides`. */
export interface PolicyOverrides {
  trust?: readonly string[];
  allow?: readonly string[];
  encrypt?: readonly string[];
  exclude?: readonly string[];
}

/** A file chosen by `selectFiles`. For a symlink, `path`/`uri` are the link's own, the rest its target's. */
export interface SelectedFile {
  /** Absolute path inside the image ('/usr/bin/env'). */
  readonly path: string;
  /** Gramine URI of the path: 'file:' + path. */
  readonly uri: string;
  /** Lowercase hex sha256 of the content (of the resolved target for a symlink). */
  readonly sha256: string;
  /** Content size in bytes. */
  readonly size: number;
  /** For a symlink: the absolute path of the regular file it resolves to inside the root. */
  readonly target?: string;
}

/** The outcome of applying a policy to a root filesystem. Lists are in `comparePaths` order. */
export interface FileSelection {
  readonly trusted: readonly SelectedFile[];
  /** Files to list in sgx.allowed_files (unprotected!); `sha256` is informative only. */
  readonly allowed: readonly SelectedFile[];
  readonly encrypted: readonly SelectedFile[];
  /**
   * Literal (glob-free) allow patterns, as absolute paths, listed even when absent from the image
   * (files or directories the app creates at run time). A trailing '/' marks a directory.
   */
  readonly allowedPaths: readonly string[];
  /** Files and file symlinks that an exclude rule matched, or that no rule matched. */
  readonly excluded: number;
  /** Symlinks that do not resolve to a regular file inside the root (dangling, to a dir, ...). */
  readonly skipped: number;
  /**
   * Paths an encrypt rule classifies as encrypted that hold no content to encrypt (a fifo, a
   * device): they stay as they are in the image; the caller warns about them.
   */
  readonly unencryptable: readonly string[];
}
