/**
 * `cconv attest sign|verify|keygen`: sigstore attestations of a pushed image, stored as OCI
 * referrers. `sign` signs the enclave predicate (from the image labels or --enclave-json) with a
 * local P-256 key or keylessly (Fulcio + Rekor); `verify` checks them; `keygen` makes a key.
 */
import { readFile } from 'node:fs/promises';
import { CconvError, wrapIoError } from '../../errors.ts';
import {
  ENCLAVE_PREDICATE_TYPE,
  SLSA_PROVENANCE_TYPE,
  attestImage,
  generateSigstoreKey,
  identityTokenProvider,
  loadSigstorePrivateKey,
  loadSigstorePublicKey,
  parseEnclavePredicate,
  verifyAttestations,
  type AttestResult,
  type SigningMethod,
  type SigstoreKeyFiles,
  type TrustPolicy,
  type VerifyAttestationsResult,
} from '../../publish/index.ts';
import { runTask } from '../../progress.ts';
import type { CommandHandler } from '../main.ts';
import { registryOptionsFrom, type RegistryArgs } from '../options/registry.ts';

async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw wrapIoError(err, `reading ${what} ${path}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CconvError('E_USAGE', `${what} ${path} is not JSON`);
  }
}

interface SignArgs extends RegistryArgs {
  image: string;
  key?: string;
  keyless?: boolean;
  /** Unset: @sigstore/sign's defaults (the public-good instance). */
  fulcioUrl?: string;
  rekorUrl?: string;
  identityTokenEnv?: string;
  enclaveJson?: string;
}

/** `attest sign`. */
export const attestSignCommand: CommandHandler<SignArgs, AttestResult> = {
  stages: () => [
    { id: 'sign-enclave', title: 'Signing the enclave attestation' },
    { id: 'push-enclave', title: 'Storing the enclave attestation' },
  ],
  run: async (args, report, io) => {
    let signing: SigningMethod;
    if (args.key !== undefined) signing = { kind: 'key', privateKey: await loadSigstorePrivateKey(args.key) };
    else if (args.keyless === true) {
      signing = { kind: 'keyless', identityToken: identityTokenProvider(io.env, args.identityTokenEnv === undefined ? {} : { tokenEnv: args.identityTokenEnv }), fulcioUrl: args.fulcioUrl, rekorUrl: args.rekorUrl };
    } else throw new CconvError('E_USAGE', 'choose --key FILE or --keyless');
    const enclave = args.enclaveJson === undefined ? undefined : parseEnclavePredicate(await readJsonFile(args.enclaveJson, 'enclave JSON'), `enclave JSON ${args.enclaveJson}`);
    return attestImage(args.image, { signing, registry: await registryOptionsFrom(args, io), report, ...(enclave ? { enclave } : {}) });
  },
  human: (r) =>
    [
      `Attested ${r.image}@${r.digest}`,
      `MRENCLAVE: ${r.enclave.mrenclave}`,
      `MRSIGNER:  ${r.enclave.mrsigner}`,
      ...r.attestations.map((a) => `  ${a.predicateType} -> referrer ${a.referrer} (${a.index === 'api' ? 'referrers API' : 'fallback tag'})${a.logIndex !== undefined ? `, Rekor log index ${a.logIndex}` : ''}`),
    ].join('\n'),
};

interface VerifyArgs extends RegistryArgs {
  image: string;
  key?: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  trustedRoot?: string;
  expectMrenclave?: string;
  expectMrsigner?: string;
  requireProvenance: boolean;
}

/** `attest verify`. */
export const attestVerifyCommand: CommandHandler<VerifyArgs, VerifyAttestationsResult> = {
  stages: () => [{ id: 'verify-attestations', title: 'Verifying attestations' }],
  run: async (args, report, io) => {
    let trust: TrustPolicy;
    if (args.key !== undefined) trust = { kind: 'key', publicKey: await loadSigstorePublicKey(args.key) };
    else if (args.certificateIdentity !== undefined && args.certificateOidcIssuer !== undefined && args.trustedRoot !== undefined) {
      trust = { kind: 'keyless', certificateIdentity: args.certificateIdentity, certificateIssuer: args.certificateOidcIssuer, trustedRoot: await readJsonFile(args.trustedRoot, 'trusted root') };
    } else throw new CconvError('E_USAGE', 'give --key FILE, or --certificate-identity, --certificate-oidc-issuer and --trusted-root');
    const expect: { mrenclave?: string; mrsigner?: string } = {};
    if (args.expectMrenclave !== undefined) expect.mrenclave = args.expectMrenclave;
    if (args.expectMrsigner !== undefined) expect.mrsigner = args.expectMrsigner;
    return verifyAttestations(args.image, {
      trust,
      expect,
      require: args.requireProvenance ? [ENCLAVE_PREDICATE_TYPE, SLSA_PROVENANCE_TYPE] : [ENCLAVE_PREDICATE_TYPE],
      registry: await registryOptionsFrom(args, io),
      report,
    });
  },
  human: (r) =>
    [
      `Verified ${r.image}@${r.digest} (${r.verified.length} attestation(s), ${r.rejected.length} rejected)`,
      ...(r.enclave ? [`MRENCLAVE: ${r.enclave.mrenclave}`, `MRSIGNER:  ${r.enclave.mrsigner}`] : []),
      ...r.verified.map((v) => `  ok  ${v.predicateType}  ${v.referrer}  ${v.signer.kind === 'key' ? `key ${v.signer.keyId.slice(0, 16)}` : `${v.signer.identity} (${v.signer.issuer})`}`),
      ...r.rejected.map((x) => `  rejected ${x.referrer}: ${x.code} ${x.reason}`),
      `Compared with: ${r.checked.join(', ') || 'nothing (no labels, no --expect-*)'}`,
    ].join('\n'),
};

interface KeygenArgs {
  path: string;
  force: boolean;
}

/** `attest keygen`. */
export const attestKeygenCommand: CommandHandler<KeygenArgs, SigstoreKeyFiles> = {
  stages: () => [{ id: 'keygen', title: 'Generating a P-256 key' }],
  run: (args, report) => runTask(report, 'keygen', 'Generating a P-256 key', () => generateSigstoreKey(args.path, { force: args.force })),
  human: (r) => `Wrote ${r.privateKeyPath} (mode 0600) and ${r.publicKeyPath}\nKey id: ${r.keyId}`,
};
