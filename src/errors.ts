/**
 * The one error type cconv code throws. Every failure a user can cause or meet carries a stable
 * `code` from the closed union below; `cli/` maps codes to exit statuses and prints
 * `message` plus `hint`. Raw fs/HTTP/Docker errors are wrapped at the layer that meets them and kept
 * as `cause` (shown with --verbose only). Messages never contain key material.
 */

/** Closed set of error codes. Add a code here (never reuse one for another meaning) and a row in README.md. */
export type ErrorCode =
  // usage and configuration
  | 'E_USAGE' // bad command-line arguments or option values
  | 'E_CONFIG' // invalid config/policy file
  | 'E_UNSUPPORTED' // a valid request cconv does not implement (yet)
  // references and transports
  | 'E_REF_INVALID' // unparseable image reference
  | 'E_TRANSPORT_UNAVAILABLE' // transport known but not implemented in this build
  | 'E_IMAGE_NOT_FOUND' // reference names no image (tag missing, file missing)
  | 'E_PLATFORM_NOT_FOUND' // index has no manifest for the requested platform
  | 'E_DAEMON' // Docker daemon unreachable or failed
  | 'E_REGISTRY' // registry protocol error
  | 'E_AUTH' // authentication/authorization failure
  | 'E_NETWORK' // connection failure after retries
  // image model
  | 'E_DIGEST_INVALID' // malformed digest string
  | 'E_DIGEST_MISMATCH' // content does not hash to its digest
  | 'E_SIZE_MISMATCH' // content length differs from its descriptor
  | 'E_MANIFEST_INVALID' // manifest/index/config JSON fails validation
  | 'E_MEDIA_TYPE' // unknown or unsupported media type
  | 'E_BLOB_MISSING' // a descriptor points at a blob that is not there
  | 'E_LAYER_CORRUPT' // truncated/corrupt compressed stream or tar
  // root filesystem
  | 'E_UNSAFE_PATH' // absolute path, '..', or path through a symlink in a layer
  | 'E_LINK_ESCAPE' // hardlink/symlink that points outside the root
  | 'E_LINK_INVALID' // hardlink to a missing or non-regular target; symlink loop
  | 'E_WHITEOUT_INVALID' // whiteout outside its directory or malformed
  // runtime, measurement, signing
  | 'E_MANIFEST_TEMPLATE' // runtime template or user fragment cannot be rendered/merged
  | 'E_NO_ENTRYPOINT' // image config has neither Entrypoint nor Cmd
  | 'E_ELF_INVALID' // an ELF file cconv reads or patches (libpal, the host loader) is malformed, not x86-64 ELF64 LE, or cannot be patched
  | 'E_ENCLAVE_LAYOUT' // enclave too small, bad sizes
  | 'E_TRUSTED_FILE' // trusted file missing/not a regular file in the image, bad URI, dir URI without '/'
  | 'E_KEY_INVALID' // signing key wrong type, size or exponent; wrong passphrase
  | 'E_SIGNATURE_INVALID' // signature does not verify
  | 'E_ATTESTATION' // a signed attestation is missing, or does not match the image (subject digest, enclave identity)
  | 'E_SIGNER' // external signer failed
  | 'E_VERIFY_MISMATCH' // a confidential image does not match its own manifest, SIGSTRUCT, labels or expected identity
  | 'E_SIGSTRUCT_INVALID' // SIGSTRUCT malformed: wrong size, header, field range or date encoding
  // encryption
  | 'E_PF_FORMAT' // protected file malformed
  | 'E_PF_AUTH' // protected file authentication failed (wrong key or tampered)
  | 'E_PF_PATH' // protected file bound to another path
  | 'E_POLICY_DENIED' // a release policy does not allow the given attestation claims (cconv policy check)
  | 'E_QUOTE_REJECTED' // an SGX quote fails verification or the key broker's policy (cconv kbs verify-quote)
  // generic
  | 'E_IO' // local file system error
  | 'E_ABORTED' // the operation was cancelled through its AbortSignal
  | 'E_INTERNAL'; // a bug in cconv

/** Options of a CconvError beyond code and message. */
export interface CconvErrorOptions {
  /** One-line advice shown under the message. */
  hint?: string;
  /** The underlying error (fs, HTTP, Docker); shown with --verbose. */
  cause?: unknown;
}

/** An error with a stable code; the only error type that crosses module boundaries. */
export class CconvError extends Error {
  readonly code: ErrorCode;
  /** Absent (not undefined-valued) when there is none: serialisers such as YAML dumpers reject undefined. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: CconvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CconvError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/** True when `err` is a CconvError, optionally with the given code. */
export function isCconvError(err: unknown, code?: ErrorCode): err is CconvError {
  return err instanceof CconvError && (code === undefined || err.code === code);
}

/**
 * Wraps a Node fs error (ENOENT, EACCES, ...) as E_IO, or passes a CconvError through unchanged.
 * `what` names the file or action for the message.
 */
export function wrapIoError(err: unknown, what: string): CconvError {
  if (err instanceof CconvError) return err;
  const sys = err as NodeJS.ErrnoException;
  const reason = typeof sys?.code === 'string' ? sys.code : String((err as Error)?.message ?? err);
  return new CconvError('E_IO', `${what}: ${reason}`, { cause: err });
}
