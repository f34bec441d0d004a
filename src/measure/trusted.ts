/**
 * Trusted-file expansion, as `gramine-sgx-sign --chroot` does it (manifest.py
 * `expand_all_trusted_files`), over a flattened image root instead of a directory on disk.
 *
 * - `file:/dir/` URIs are expanded recursively, children in code-point (= bytewise UTF-8) order;
 *   each child's URI is built from the resolved directory path plus the child's name.
 * - A symlink to a file keeps its own URI and is hashed from its target resolved inside the root;
 *   a symlink to a directory is not descended; entries that are neither files nor directories
 *   (after following symlinks), dangling symlinks and loops are skipped.
 * - A URI seen twice keeps its first position; an entry that already has a sha256 is not hashed
 *   again (two different sha256 values for one URI are an error).
 *
 * Deliberate difference: the reference decides during directory expansion whether an entry is a
 * file by looking at the path on the signing HOST, so an absolute symlink is followed outside the
 * chroot (e.g. `conf-link -> /etc/app.conf` is dropped when the host lacks /etc/app.conf). Here
 * every symlink is followed inside the image root, so such an entry is kept at its sorted place.
 * Likewise the reference skips entries the signing user cannot read (os.access); an image's files
 * are all listed here, whoever runs cconv (docs/gramine-crosscheck.md has both cases).
 */
import { createHash } from 'node:crypto';
import { CconvError } from '../errors.ts';
import { runTask, silentReporter, type Reporter } from '../progress.ts';
import type { Rootfs } from '../rootfs/types.ts';
import { ChrootView } from './chroot.ts';

/** One trusted file as requested in a manifest. */
export interface TrustedFileSpec {
  uri: string;
  sha256?: string;
}

/** One expanded, measured trusted file (lowercase hex sha256 unless given pre-hashed). */
export interface TrustedFile {
  uri: string;
  sha256: string;
}

interface Pending {
  uri: string;
  sha256: string | undefined;
  /** Resolved path of the content, relative to the root. */
  target: string;
}

function fail(message: string, hint?: string): CconvError {
  return new CconvError('E_TRUSTED_FILE', message, hint === undefined ? {} : { hint });
}

/** The absolute path of a `file:` URI (throws E_TRUSTED_FILE for other URIs or relative paths). */
export function uriPath(uri: string): string {
  if (!uri.startsWith('file:')) throw fail(`unsupported trusted file URI ${JSON.stringify(uri)}`, 'use file:/absolute/path');
  const path = uri.slice('file:'.length);
  if (!path.startsWith('/')) throw fail(`trusted file URI ${JSON.stringify(uri)} is not absolute`);
  return path;
}

function* expandDirectory(view: ChrootView, dir: string): Generator<Pending> {
  for (const name of view.childNames(dir)) {
    const child = dir === '' ? name : `${dir}/${name}`;
    const entry = view.rootfs.get(child);
    const isLink = entry?.type === 'symlink';
    const target = isLink ? view.tryResolve(`/${child}`) : child;
    if (target === undefined) continue;
    const isDir = view.isDir(target);
    if (!isDir && view.entry(target)?.type !== 'file') continue;
    if (isDir) {
      if (!isLink) yield* expandDirectory(view, child);
      continue;
    }
    yield { uri: `file:/${child}`, sha256: undefined, target };
  }
}

function* expandSpec(view: ChrootView, spec: TrustedFileSpec): Generator<Pending> {
  if (spec.sha256 !== undefined && !spec.uri.endsWith('/')) {
    // Pre-hashed: the reference only checks that it is not a directory; the file itself need not
    // be in this root (cconv's argv file and the runtime's files are added to the output image later).
    const real = view.tryResolve(uriPath(spec.uri));
    if (real !== undefined && view.isDir(real)) throw fail(`directory URI ${JSON.stringify(spec.uri)} does not end with "/"`);
    yield { uri: spec.uri, sha256: spec.sha256, target: real ?? '' };
    return;
  }
  const real = view.resolve(uriPath(spec.uri));
  if (spec.uri.endsWith('/')) {
    if (!view.isDir(real)) throw fail(`trusted file URI ${JSON.stringify(spec.uri)} ends with "/" but is not a directory`);
    if (spec.sha256 !== undefined) throw fail(`directory URI ${JSON.stringify(spec.uri)} has sha256 specified`);
    yield* expandDirectory(view, real);
    return;
  }
  if (view.isDir(real)) throw fail(`directory URI ${JSON.stringify(spec.uri)} does not end with "/"`);
  yield { uri: spec.uri, sha256: spec.sha256, target: real };
}

/** Options of `expandTrustedFiles`. */
export interface ExpandOptions {
  report?: Reporter;
}

/**
 * Expands and hashes `specs` against `rootfs`. Hashes come from `entry.sha256` when the root was
 * built with hashing; otherwise missing ones are computed in one `readContents` pass. Without a
 * root (`undefined`), every spec must already be a file URI with a sha256.
 * Throws E_TRUSTED_FILE for a missing or non-regular file, a bad URI or a conflicting hash.
 */
export async function expandTrustedFiles(
  specs: readonly TrustedFileSpec[],
  rootfs: Rootfs | undefined,
  options: ExpandOptions = {},
): Promise<TrustedFile[]> {
  const view = rootfs === undefined ? undefined : new ChrootView(rootfs);
  const byUri = new Map<string, Pending>();
  for (const spec of specs) {
    let items: Iterable<Pending>;
    if (view === undefined) {
      uriPath(spec.uri);
      if (spec.sha256 === undefined || spec.uri.endsWith('/')) {
        throw fail(`trusted file ${JSON.stringify(spec.uri)} needs the image root to be expanded or hashed`);
      }
      items = [{ uri: spec.uri, sha256: spec.sha256, target: '' }];
    } else {
      items = expandSpec(view, spec);
    }
    for (const tf of items) {
      const old = byUri.get(tf.uri);
      if (old?.sha256 !== undefined) {
        if (tf.sha256 !== undefined && tf.sha256 !== old.sha256) {
          throw fail(`two different sha256 values (${old.sha256} and ${tf.sha256}) for ${JSON.stringify(tf.uri)}`);
        }
        continue;
      }
      byUri.set(tf.uri, tf); // replacing keeps the first position, as a Python dict does
    }
  }
  const result = [...byUri.values()];
  const toRead = new Map<string, string | undefined>();
  for (const tf of result) {
    if (tf.sha256 !== undefined || view === undefined) continue;
    const e = view.entry(tf.target);
    if (e === undefined || e.type !== 'file') {
      throw fail(`missing trusted file ${JSON.stringify(tf.uri)}${e === undefined ? '' : ` (a ${e.type}, not a regular file)`}`);
    }
    if (e.sha256 !== undefined) tf.sha256 = e.sha256;
    else toRead.set(e.path, undefined);
  }
  if (toRead.size > 0 && rootfs !== undefined) {
    await runTask(options.report ?? silentReporter, 'measure-trusted-files', 'Hashing trusted files', async (advance) => {
      await rootfs.readContents((e) => toRead.has(e.path), async (e, content) => {
        const h = createHash('sha256');
        for await (const chunk of content) {
          h.update(chunk as Buffer);
          advance((chunk as Buffer).length);
        }
        toRead.set(e.path, h.digest('hex'));
      });
    });
    for (const tf of result) {
      if (tf.sha256 === undefined) tf.sha256 = toRead.get(tf.target);
      if (tf.sha256 === undefined) throw fail(`trusted file ${JSON.stringify(tf.uri)} was not delivered by the image`);
    }
  }
  return result.map((tf) => ({ uri: tf.uri, sha256: tf.sha256 as string }));
}
