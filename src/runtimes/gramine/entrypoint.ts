/**
 * What the image config says about the process: argv (Entrypoint + Cmd), the executable found
 * as a container runtime finds it (PATH lookup inside the image root), the environment, and the
 * working directory. Also the bytes of Gramine's `loader.argv_src_file`.
 */
import { posix } from 'node:path';
import { CconvError, isCconvError } from '../../errors.ts';
import type { ContainerConfig } from '../../image/types.ts';
import type { Rootfs, RootfsEntry } from '../../rootfs/types.ts';

/** PATH a container gets when its image sets none (Docker/containerd default for Linux). */
export const DEFAULT_CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** argv = Entrypoint ++ Cmd (Docker semantics). Throws E_NO_ENTRYPOINT when both are empty. */
export function imageArgv(config: ContainerConfig | undefined): string[] {
  const argv = [...(config?.Entrypoint ?? []), ...(config?.Cmd ?? [])];
  if (argv.length === 0) {
    throw new CconvError('E_NO_ENTRYPOINT', 'the image config has neither Entrypoint nor Cmd', {
      hint: 'rebuild the image with an ENTRYPOINT or CMD',
    });
  }
  if (argv[0] === '') throw new CconvError('E_CONFIG', 'the image config names an empty executable (argv[0] is "")');
  for (const arg of argv) {
    if (arg.includes('\0')) throw new CconvError('E_CONFIG', 'an Entrypoint/Cmd argument contains a NUL byte');
  }
  return argv;
}

/**
 * The image's Env as an ordered map (first position kept, last value wins, as Docker applies
 * them). An item without '=' is a variable with an empty value. PATH gets Docker's default when
 * the image sets none.
 */
export function imageEnv(config: ContainerConfig | undefined): Map<string, string> {
  const env = new Map<string, string>();
  for (const item of config?.Env ?? []) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (name === '' || name.includes('\0') || item.includes('\0')) {
      throw new CconvError('E_CONFIG', `image config Env item ${JSON.stringify(item.slice(0, 40))} is malformed`);
    }
    env.set(name, eq < 0 ? '' : item.slice(eq + 1));
  }
  if (!env.has('PATH')) env.set('PATH', DEFAULT_CONTAINER_PATH);
  return env;
}

/** The normalised absolute WorkingDir, or undefined when the image sets none. */
export function imageWorkdir(config: ContainerConfig | undefined): string | undefined {
  const wd = config?.WorkingDir ?? '';
  if (wd === '') return undefined;
  return posix.normalize(posix.join('/', wd)).replace(/(.)\/$/, '$1');
}

function resolveFile(rootfs: Rootfs, absPath: string): RootfsEntry | undefined {
  try {
    const e = rootfs.resolve(absPath.replace(/^\/+/, ''));
    return e?.type === 'file' ? e : undefined;
  } catch (err) {
    if (isCconvError(err, 'E_LINK_INVALID')) return undefined;
    throw err;
  }
}

/**
 * Finds argv[0] in the image root as execvp would in the container: a name with '/' is taken as
 * is (relative to the working directory); otherwise each PATH directory is tried in order (an
 * empty or relative one is relative to the working directory) and the first regular file with an
 * execute bit wins. Symlinks are followed inside the root. Returns the resolved absolute path.
 * Throws E_CONFIG when nothing is found.
 */
export function findExecutable(rootfs: Rootfs, name: string, path: string, workdir = '/'): string {
  const candidates = name.includes('/')
    ? [posix.resolve(workdir, name)]
    : path.split(':').map((dir) => posix.resolve(workdir, dir === '' ? '.' : dir, name));
  for (const candidate of candidates) {
    const entry = resolveFile(rootfs, candidate);
    if (entry !== undefined && (entry.mode & 0o111) !== 0) return `/${entry.path}`;
  }
  throw new CconvError('E_CONFIG', `the image's entrypoint ${JSON.stringify(name)} is not an executable file in the image`, {
    hint: name.includes('/') ? 'check Entrypoint/Cmd and WorkingDir' : `searched PATH=${path}`,
  });
}

/**
 * The content of a `loader.argv_src_file`: every argument followed by one NUL byte (what
 * gramine-argv-serializer writes and Gramine's load_cstring_array reads; argv[0] included).
 */
export function serializeArgv(argv: readonly string[]): Buffer {
  return Buffer.concat(argv.flatMap((arg) => [Buffer.from(arg, 'utf8'), Buffer.alloc(1)]));
}
