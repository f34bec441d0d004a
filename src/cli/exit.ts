/**
 * The one place that maps error codes to exit statuses and one-line messages (README.md, "Exit
 * codes"). A Record over the closed ErrorCode union, so a new code cannot be added without a status.
 */
import { constants } from 'node:os';
import { CconvError, type ErrorCode } from '../errors.ts';

/** Exit statuses. 0 is success. */
export const ExitStatus = {
  internal: 1,
  usage: 2,
  notFound: 3,
  badImage: 4,
  environment: 5,
  crypto: 6,
  unsupported: 7,
  /** A release policy denies the claims (`cconv policy check`), or a quote is rejected (`cconv kbs verify-quote`). */
  policyDenied: 8,
  /** Cancelled (E_ABORTED) with no signal to name; a signal gives `signalStatus` instead. */
  interrupted: 130,
} as const;

/** The signals that stop a command cleanly (src/cli/command.ts). */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** Exit status after `signal`, as shells report a process it ended: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function signalStatus(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

const STATUS: Record<ErrorCode, number> = {
  E_USAGE: ExitStatus.usage,
  E_CONFIG: ExitStatus.usage,
  E_REF_INVALID: ExitStatus.usage,
  E_MANIFEST_TEMPLATE: ExitStatus.usage,
  E_IMAGE_NOT_FOUND: ExitStatus.notFound,
  E_PLATFORM_NOT_FOUND: ExitStatus.notFound,
  E_DIGEST_INVALID: ExitStatus.badImage,
  E_DIGEST_MISMATCH: ExitStatus.badImage,
  E_SIZE_MISMATCH: ExitStatus.badImage,
  E_MANIFEST_INVALID: ExitStatus.badImage,
  E_MEDIA_TYPE: ExitStatus.badImage,
  E_BLOB_MISSING: ExitStatus.badImage,
  E_LAYER_CORRUPT: ExitStatus.badImage,
  E_UNSAFE_PATH: ExitStatus.badImage,
  E_LINK_ESCAPE: ExitStatus.badImage,
  E_LINK_INVALID: ExitStatus.badImage,
  E_WHITEOUT_INVALID: ExitStatus.badImage,
  E_NO_ENTRYPOINT: ExitStatus.badImage,
  E_ELF_INVALID: ExitStatus.badImage,
  E_ENCLAVE_LAYOUT: ExitStatus.badImage,
  E_TRUSTED_FILE: ExitStatus.badImage,
  E_VERIFY_MISMATCH: ExitStatus.badImage,
  E_DAEMON: ExitStatus.environment,
  E_REGISTRY: ExitStatus.environment,
  E_AUTH: ExitStatus.environment,
  E_NETWORK: ExitStatus.environment,
  E_IO: ExitStatus.environment,
  E_KEY_INVALID: ExitStatus.crypto,
  E_SIGNATURE_INVALID: ExitStatus.crypto,
  E_ATTESTATION: ExitStatus.crypto,
  E_SIGNER: ExitStatus.crypto,
  E_SIGSTRUCT_INVALID: ExitStatus.crypto,
  E_PF_FORMAT: ExitStatus.crypto,
  E_PF_AUTH: ExitStatus.crypto,
  E_PF_PATH: ExitStatus.crypto,
  E_POLICY_DENIED: ExitStatus.policyDenied,
  E_QUOTE_REJECTED: ExitStatus.policyDenied,
  E_UNSUPPORTED: ExitStatus.unsupported,
  E_TRANSPORT_UNAVAILABLE: ExitStatus.unsupported,
  E_ABORTED: ExitStatus.interrupted,
  E_INTERNAL: ExitStatus.internal,
};

/** Exit status for any thrown value; non-CconvErrors are internal errors. */
export function exitStatusFor(err: unknown): number {
  return err instanceof CconvError ? STATUS[err.code] : ExitStatus.internal;
}

/** Normalises anything thrown into a CconvError (unknown errors become E_INTERNAL). */
export function asCconvError(err: unknown): CconvError {
  if (err instanceof CconvError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CconvError('E_INTERNAL', `internal error: ${message}`, {
    cause: err,
    hint: 'this is a bug in cconv; please report it with the output of --verbose',
  });
}

/** The JSON form of an error printed on stdout with --json; `exitStatus` defaults to the code's. */
export function errorJson(err: CconvError, exitStatus: number = STATUS[err.code]): { error: { code: ErrorCode; message: string; hint?: string; exitStatus: number } } {
  const out: { code: ErrorCode; message: string; hint?: string; exitStatus: number } = { code: err.code, message: err.message, exitStatus };
  if (err.hint !== undefined) out.hint = err.hint;
  return { error: out };
}

/** Human lines for stderr: `cconv: error E_CODE: message`, the hint, and with verbose the cause chain. */
export function errorLines(err: CconvError, verbose: boolean): string[] {
  const lines = [`cconv: error ${err.code}: ${err.message}`];
  if (err.hint) lines.push(`  hint: ${err.hint}`);
  if (verbose) {
    let cause = (err as Error).cause;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      lines.push(`  cause: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return lines;
}
