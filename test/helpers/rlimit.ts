/** Per-process resource limits for tests, through util-linux prlimit (part of every Debian system). */
import { execFileSync } from 'node:child_process';

/**
 * Runs `fn` with this process's file size limit (RLIMIT_FSIZE) set to `bytes`, then restores it:
 * a write past the limit fails with EFBIG (Node ignores SIGXFSZ). The limit holds for the whole
 * process: call it from serial tests only.
 */
export async function withFileSizeLimit<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  const pid = String(process.pid);
  const before = execFileSync('prlimit', ['--pid', pid, '--fsize', '--raw', '--noheadings', '--output=SOFT'], { encoding: 'utf8' }).trim();
  execFileSync('prlimit', ['--pid', pid, `--fsize=${bytes}:`]);
  try {
    return await fn();
  } finally {
    execFileSync('prlimit', ['--pid', pid, `--fsize=${before}:`]);
  }
}

