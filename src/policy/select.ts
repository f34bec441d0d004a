/**
 * Applies a policy to a flattened root filesystem: which files become Gramine trusted files,
 * allowed files or encrypted files. Pure over the `Rootfs` view: no host file is ever opened.
 *
 * What is listed: every regular file (hardlinks included), and every path that reaches a regular
 * file through symlinks resolved INSIDE the root (chroot semantics), under the path the app uses.
 * Gramine's chroot mount follows host symlinks transparently and checks a trusted file by the
 * path that was opened, so a file symlink is listed under its own URI with its target's sha256,
 * and files below a symlinked directory (merged-/usr images: /lib -> usr/lib) are listed under
 * their alias paths too, as GSC does. A symlinked directory that leads back to a directory being
 * walked (/usr/bin/X11 -> .) is not descended, and aliases nest at most MAX_DIR_LINK_DEPTH deep.
 */
import { CconvError, isCconvError } from '../errors.ts';
import { comparePaths } from '../rootfs/index.ts';
import type { Rootfs, RootfsEntry } from '../rootfs/types.ts';
import { compilePolicy, type CompiledPolicy } from './policy.ts';
import type { FileSelection, Policy, SelectedFile } from './types.ts';

/** How many symlinked directories may be nested along one listed path. */
export const MAX_DIR_LINK_DEPTH = 8;

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function childrenIndex(rootfs: Rootfs): Map<string, RootfsEntry[]> {
  const index = new Map<string, RootfsEntry[]>();
  for (const entry of rootfs.entries()) {
    const parent = parentOf(entry.path);
    let list = index.get(parent);
    if (list === undefined) index.set(parent, (list = []));
    list.push(entry);
  }
  return index;
}

function contentHash(rootfs: Rootfs, entry: RootfsEntry): string {
  let hash = entry.sha256;
  if (hash === undefined && entry.hardlinkTo !== undefined) hash = rootfs.get(entry.hardlinkTo)?.sha256;
  if (hash === undefined) {
    throw new CconvError('E_INTERNAL', `no sha256 for /${entry.path}: the root filesystem was flattened without hashing`);
  }
  return hash;
}

function resolveQuietly(rootfs: Rootfs, path: string): RootfsEntry | undefined {
  try {
    return rootfs.resolve(path);
  } catch (err) {
    if (isCconvError(err, 'E_LINK_INVALID')) return undefined; // a loop: nothing to list
    throw err;
  }
}

const GLOB_META = /[*?[\\]/;

/**
 * Calls `visit(alias, file)` for every path that reaches a regular file inside the root (see the
 * module comment: a file's own path, and its aliases through symlinks to it or to a directory
 * above it), with `alias` relative ('usr/bin/env') and `file` the regular file it reaches; `skip`
 * for each symlink that leads to neither (dangling, a loop, too deep). Depth-first in entry order.
 */
export function walkFilePaths(rootfs: Rootfs, visit: (alias: string, file: RootfsEntry) => void, skip: () => void = () => {}): void {
  const index = childrenIndex(rootfs);
  // `chain` holds the real directories on the current walk, to stop symlink loops.
  const walk = (realDir: string, aliasDir: string, chain: Set<string>, linkDepth: number): void => {
    for (const child of index.get(realDir) ?? []) {
      const name = child.path.slice(child.path.lastIndexOf('/') + 1);
      const alias = aliasDir === '' ? name : `${aliasDir}/${name}`;
      if (child.type === 'file') {
        visit(alias, child);
      } else if (child.type === 'dir') {
        walk(child.path, alias, new Set(chain).add(child.path), linkDepth);
      } else if (child.type === 'symlink') {
        const target = resolveQuietly(rootfs, child.path);
        if (target?.type === 'file') {
          visit(alias, target);
        } else if (target?.type === 'dir' && !chain.has(target.path) && linkDepth < MAX_DIR_LINK_DEPTH) {
          walk(target.path, alias, new Set(chain).add(target.path), linkDepth + 1);
        } else {
          skip();
        }
      }
    }
  };
  walk('', '', new Set(['']), 0);
}

/**
 * Lists the files of `rootfs` by class under `policy` (a Policy or a compiled one). Lists are
 * sorted with `comparePaths`. Throws E_INTERNAL when file entries carry no sha256.
 */
export function selectFiles(rootfs: Rootfs, policy: Policy | CompiledPolicy): FileSelection {
  const compiled = 'classify' in policy ? policy : compilePolicy(policy);
  const trusted: SelectedFile[] = [];
  const allowed: SelectedFile[] = [];
  const encrypted: SelectedFile[] = [];
  let excluded = 0;
  let skipped = 0;

  const emit = (alias: string, file: RootfsEntry): void => {
    const path = `/${alias}`;
    const base = { path, uri: `file:${path}`, sha256: contentHash(rootfs, file), size: file.size };
    const selected: SelectedFile = alias === file.path ? base : { ...base, target: `/${file.path}` };
    switch (compiled.classify(path)) {
      case 'trust': trusted.push(selected); break;
      case 'allow': allowed.push(selected); break;
      case 'encrypt': encrypted.push(selected); break;
      default: excluded++;
    }
  };
  walkFilePaths(rootfs, emit, () => skipped++);

  const byPath = (a: SelectedFile, b: SelectedFile): number => comparePaths(a.path, b.path);
  trusted.sort(byPath);
  allowed.sort(byPath);
  encrypted.sort(byPath);
  const unencryptable = [...rootfs.entries()]
    .filter((e) => (e.type === 'fifo' || e.type === 'char' || e.type === 'block') && compiled.classify(`/${e.path}`) === 'encrypt')
    .map((e) => `/${e.path}`);
  if ('rules' in policy) checkLiteralEncrypts(rootfs, policy, encrypted);
  return { trusted, allowed, encrypted, allowedPaths: literalAllowedPaths(rootfs, compiled, policy, allowed), excluded, skipped, unencryptable };
}

/**
 * A glob-free encrypt pattern names one thing the user means to protect: E_CONFIG when no regular
 * file at or below it ends up encrypted (nothing there, a fifo or device, an empty directory, or a
 * later rule that classifies it otherwise), rather than a build that silently encrypts nothing.
 */
function checkLiteralEncrypts(rootfs: Rootfs, policy: Policy, encrypted: readonly SelectedFile[]): void {
  for (const rule of policy.rules) {
    if (rule.type !== 'encrypt') continue;
    for (const pattern of rule.paths) {
      if (GLOB_META.test(pattern)) continue;
      const path = pattern.length > 1 ? pattern.replace(/\/+$/, '') : pattern;
      const below = path === '/' ? '/' : `${path}/`;
      if (encrypted.some((f) => f.path === path || f.path.startsWith(below))) continue;
      const what = resolveQuietly(rootfs, path.slice(1));
      const why = what === undefined ? 'there is nothing at that path in the image'
        : what.type === 'file' ? 'a later policy rule classifies it otherwise'
          : what.type === 'dir' ? 'it is a directory with no regular file to encrypt (or later rules classify them otherwise)'
            : `it is a ${what.type}, which has no content to encrypt`;
      throw new CconvError('E_CONFIG', `the encrypt rule ${JSON.stringify(pattern)} matches no file to encrypt: ${why}`, {
        hint: 'name a regular file or a directory holding files (a glob such as /app/model/** may match nothing without an error)',
      });
    }
  }
}

/** Glob-free allow patterns that still classify as 'allow' and are not already listed files. */
function literalAllowedPaths(
  rootfs: Rootfs,
  compiled: CompiledPolicy,
  policy: Policy | CompiledPolicy,
  allowed: readonly SelectedFile[],
): string[] {
  if (!('rules' in policy)) return [];
  const listed = new Set(allowed.map((f) => f.path));
  const out = new Set<string>();
  for (const rule of policy.rules) {
    if (rule.type !== 'allow') continue;
    for (const pattern of rule.paths) {
      if (GLOB_META.test(pattern)) continue;
      const path = pattern.length > 1 ? pattern.replace(/\/+$/, '') : pattern;
      if (listed.has(path) || compiled.classify(path) !== 'allow') continue;
      const isDir = pattern.endsWith('/') || resolveQuietly(rootfs, path.slice(1))?.type === 'dir';
      out.add(isDir && path !== '/' ? `${path}/` : path);
    }
  }
  return [...out].sort(comparePaths);
}
