/** The registry (`docker://`) transport: an OCI distribution client, its auth, and the source/destination. */
export type { HttpOptions, HttpRequest, HttpResponse } from './http.ts';
export { HttpTransport, backoffDelay, parseRetryAfter } from './http.ts';
export type { Challenge } from './challenge.ts';
export { parseChallenges, pickChallenge } from './challenge.ts';
export type { CredentialLookup, Credentials } from './credentials.ts';
export { dockerConfigKey, resolveCredentials, runCredentialHelper } from './credentials.ts';
export { LOGIN_HINT, RegistryAuth, repositoryScope } from './auth.ts';
export type { EntraExchange } from './acr.ts';
export { ACR_TOKEN_USER, acrTokenCredentials, exchangeEntraToken, speaksAcrOAuth } from './acr.ts';
export type { FetchedManifest, RegistryClientOptions } from './client.ts';
export { MANIFEST_ACCEPT, RegistryClient, manifestMediaType, registryBaseUrl } from './client.ts';
export type { UploadOptions } from './upload.ts';
export { DEFAULT_CHUNK_SIZE, mountBlob, startUpload, uploadBlob } from './upload.ts';
export { listReferrers, referrersTag } from './referrers.ts';
export type { RegistryOptions } from './source.ts';
export { RegistrySource, connectRegistry } from './source.ts';
export type { RegistryDestinationOptions } from './destination.ts';
export { RegistryDestination } from './destination.ts';
