/**
 * The path a protected file is bound to.
 *
 * Gramine stores a path in the encrypted metadata and, on open, compares it as an exact string
 * with the path the opener passes to pf_open (mismatch: "Invalid path"). Every Gramine caller
 * normalises that path first with get_norm_path (common/src/path_utils.c), mirrored by getNormPath.
 *
 * Which path cconv must bind (libos/src/fs/libos_fs_encrypted.c, encrypted_file_internal_open,
 * with the URI built by dentry_uri in libos/src/fs/libos_dcache.c): the LibOS passes
 * get_norm_path(<file URI without "file:">), where the file URI is the MOUNT's `uri` (a host URI)
 * joined with "/" and the file's path relative to the mount point. It is a HOST path: neither the
 * in-enclave path nor `fs.root` enter into it. Example: mount
 * `{ type = "encrypted", path = "/app/secret", uri = "file:/app/secret" }` under a chroot
 * `fs.root = { uri = "file:/rootfs" }`: the enclave's /app/secret/db/key.bin is bound to
 * "/app/secret/db/key.bin" (not "/rootfs/app/secret/db/key.bin"). With `uri = "file:enc"` the
 * binding is the relative "enc/db/key.bin". See pfBoundPath.
 */
import { CconvError } from '../../errors.ts';

/**
 * Gramine's get_norm_path: drops empty and "." components, lets ".." remove the previous
 * component; a leading ".." of a relative path is kept, "/.." is "/"; an absolute path stays
 * absolute, a relative one relative; no trailing "/". `a//b/./c/../d.pf` -> `a/b/d.pf`,
 * `./x.pf` -> `x.pf`, `../y.pf` -> `../y.pf`, `/..` -> `/`, `.` -> ``.
 */
export function getNormPath(path: string): string {
  const absolute = path.startsWith('/');
  const kept: string[] = []; // leading ".." of a relative path: never removed
  const parts: string[] = [];
  for (const tok of path.split('/')) {
    if (tok === '' || tok === '.') continue;
    if (tok === '..') {
      if (parts.length > 0) parts.pop();
      else if (!absolute) kept.push('..');
      continue;
    }
    parts.push(tok);
  }
  const body = [...kept, ...parts].join('/');
  return absolute ? `/${body}` : body;
}

/** A mount of the manifest's `fs.mounts` (only `path` and `uri` matter here). */
export interface PfMount {
  /** In-enclave mount point, e.g. "/app/secret". */
  path: string;
  /** Host URI, e.g. "file:/app/secret". */
  uri: string;
}

/**
 * The path Gramine's LibOS passes to pf_open for the file at in-enclave path `filePath` under
 * `mount` (see the module comment). Throws E_USAGE when the URI is not "file:" or the file is not
 * under the mount point.
 */
export function pfBoundPath(mount: PfMount, filePath: string): string {
  if (!mount.uri.startsWith('file:')) {
    throw new CconvError('E_USAGE', `encrypted mount URI must start with "file:": ${mount.uri}`);
  }
  const mp = getNormPath(mount.path);
  const fp = getNormPath(filePath);
  let rel: string;
  if (fp === mp) rel = '';
  else if (fp.startsWith(mp === '/' ? '/' : `${mp}/`)) rel = fp.slice(mp === '/' ? 1 : mp.length + 1);
  else throw new CconvError('E_USAGE', `${filePath} is not under the encrypted mount ${mount.path}`);
  let root = mount.uri.slice('file:'.length);
  if (root === '') root = '.';
  return getNormPath(rel === '' ? root : `${root}/${rel}`);
}
