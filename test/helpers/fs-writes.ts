/**
 * Counts calls of the fs functions that write (create, change or remove files), from `fs` and
 * `fs/promises`, until `restore()`. ESM named imports of node builtins see the spies through
 * `syncBuiltinESMExports`. Only this process is watched: a child (the zstd CLI) writes to pipes.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

const MUTATING = [
  'appendFile', 'chmod', 'chown', 'copyFile', 'cp', 'link', 'lchown', 'mkdir', 'mkdtemp', 'rename',
  'rm', 'rmdir', 'symlink', 'truncate', 'unlink', 'utimes', 'writeFile',
];
/** Flags of `open` that write: w, a, +, or numeric O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/O_APPEND. */
function writes(flags: unknown): boolean {
  const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
  if (typeof flags === 'number') return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) !== 0;
  return typeof flags === 'string' && /[wa+]/.test(flags);
}

/** Starts counting; `calls` lists `name(first argument)` of each writing call. */
export function countWrites(): { calls: string[]; restore: () => void } {
  const calls: string[] = [];
  const saved: Array<[Record<string, unknown>, string, unknown]> = [];
  const spy = (obj: Record<string, unknown>, name: string, when: (args: unknown[]) => boolean = () => true) => {
    const orig = obj[name];
    if (typeof orig !== 'function') return;
    saved.push([obj, name, orig]);
    obj[name] = function (this: unknown, ...args: unknown[]) {
      if (when(args)) calls.push(`${name}(${String(args[0])})`);
      return (orig as (...a: unknown[]) => unknown).apply(this, args);
    };
  };
  const mod = fs as unknown as Record<string, unknown>;
  const prom = fsp as unknown as Record<string, unknown>;
  for (const name of MUTATING) {
    spy(mod, name);
    spy(mod, `${name}Sync`);
    spy(prom, name);
  }
  for (const name of ['ftruncate', 'ftruncateSync', 'createWriteStream']) spy(mod, name);
  spy(mod, 'open', (a) => writes(a[1]));
  spy(mod, 'openSync', (a) => writes(a[1]));
  spy(prom, 'open', (a) => writes(a[1]));
  syncBuiltinESMExports();
  return {
    calls,
    restore() {
      for (const [obj, name, orig] of saved) obj[name] = orig;
      syncBuiltinESMExports();
    },
  };
}
