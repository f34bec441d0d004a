/**
 * Gramine's secret-provisioning messages (Gramine 1.9, tools/sgx/ra-tls/secret_prov.h,
 * secret_prov_attest.c, secret_prov_verify.c), byte for byte. After the RA-TLS handshake:
 *
 *   enclave -> broker  "SECRET_PROVISION_RA_TLS_REQUEST_V1" plus its NUL: 35 bytes. The client
 *                      sends sizeof(SECRET_PROVISION_REQUEST); the server reads and compares
 *                      exactly that many.
 *   broker -> enclave  "SECRET_PROVISION_RA_TLS_RESPONSE_V1:" plus its NUL (37 bytes), then the
 *                      secret's size as a 32-bit unsigned integer in network (big-endian) order
 *                      (htonl; secret_prov.h's comment "8B secret size follows" is stale), then
 *                      the secret. The client compares all 37 bytes, refuses a size > INT_MAX,
 *                      and reads exactly that many bytes.
 *
 * Then the broker closes the TLS session (close_notify). With SECRET_PROVISION_SET_KEY the client
 * requires exactly 16 bytes and writes them to /dev/attestation/keys/<name> (the encrypted-files
 * key); without it, the secret must end in NUL and becomes SECRET_PROVISION_SECRET_STRING.
 */

/** The request string (without its NUL). */
export const SECRET_PROVISION_REQUEST = 'SECRET_PROVISION_RA_TLS_REQUEST_V1';
/** The response prefix (without its NUL). */
export const SECRET_PROVISION_RESPONSE = 'SECRET_PROVISION_RA_TLS_RESPONSE_V1:';
/** The request on the wire: the string and its NUL, 35 bytes. */
export const REQUEST_BYTES: Buffer = Buffer.from(`${SECRET_PROVISION_REQUEST}\0`, 'latin1');
/** The response prefix on the wire: the string and its NUL, 37 bytes. */
export const RESPONSE_PREFIX_BYTES: Buffer = Buffer.from(`${SECRET_PROVISION_RESPONSE}\0`, 'latin1');
/** Bytes of the response before the secret: the prefix and the 4-byte size. */
export const RESPONSE_HEADER_SIZE = RESPONSE_PREFIX_BYTES.length + 4;
/** Largest secret Gramine's client accepts (INT_MAX). */
export const MAX_SECRET_SIZE = 0x7fffffff;
/** Size of an encrypted-files key (SECRET_PROVISION_SET_KEY). */
export const ENCRYPTED_FILES_KEY_SIZE = 16;

/** True when `bytes` is exactly the request. */
export function isRequest(bytes: Uint8Array): boolean {
  return Buffer.from(bytes).equals(REQUEST_BYTES);
}

/** The response header for a secret of `size` bytes (1..INT_MAX). */
export function responseHeader(size: number): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > MAX_SECRET_SIZE) throw new RangeError(`secret size ${size} outside 1..${MAX_SECRET_SIZE}`);
  const header = Buffer.alloc(RESPONSE_HEADER_SIZE);
  RESPONSE_PREFIX_BYTES.copy(header, 0);
  header.writeUInt32BE(size, RESPONSE_PREFIX_BYTES.length);
  return header;
}

/**
 * Parses a response header as Gramine's client does: the secret's size, or undefined when the
 * prefix differs or the size exceeds INT_MAX. `header` must be RESPONSE_HEADER_SIZE bytes.
 */
export function parseResponseHeader(header: Uint8Array): number | undefined {
  if (header.length !== RESPONSE_HEADER_SIZE) return undefined;
  const b = Buffer.from(header);
  if (!b.subarray(0, RESPONSE_PREFIX_BYTES.length).equals(RESPONSE_PREFIX_BYTES)) return undefined;
  const size = b.readUInt32BE(RESPONSE_PREFIX_BYTES.length);
  return size > MAX_SECRET_SIZE ? undefined : size;
}
