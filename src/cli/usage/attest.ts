/** Usage of `cconv attest sign|verify|keygen`; the commands themselves are in ../commands/attest.ts. */
import type { CommandGroup } from '../main.ts';
import { registryFlags } from '../options/registry.ts';

const load = () => import('../commands/attest.ts');

/**
 * The `attest` command group. The Fulcio and Rekor defaults are @sigstore/sign's DEFAULT_FULCIO_URL
 * and DEFAULT_REKOR_URL, applied by the command (importing them here would load sigstore for
 * --help); test/unit/cli-startup.test.ts checks that this help text names them.
 */
export const attestUsage: CommandGroup = {
  command: 'attest',
  describe: 'Sign and verify sigstore attestations (enclave identity, provenance) of pushed images',
  subcommands: [
    {
      command: 'sign <image>',
      describe: 'Sign the enclave identity of a pushed image and attach it as an OCI referrer (sigstore bundle)',
      builder: (y) =>
        registryFlags(
          y
            .positional('image', { type: 'string', describe: 'docker://REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
            .option('key', { type: 'string', describe: 'ECDSA P-256 private key (PEM), from cconv attest keygen' })
            // No `default: false`: yargs applies .conflicts to defaults too (see main.ts). Unset means false.
            .option('keyless', { type: 'boolean', describe: 'sign with a Fulcio certificate for an OIDC identity, logged in Rekor' })
            .option('fulcio-url', { type: 'string', describe: 'Fulcio base URL (keyless)', defaultDescription: 'https://fulcio.sigstore.dev' })
            .option('rekor-url', { type: 'string', describe: 'Rekor base URL (keyless)', defaultDescription: 'https://rekor.sigstore.dev' })
            .option('identity-token-env', { type: 'string', describe: 'variable holding the OIDC token (keyless)', defaultDescription: 'SIGSTORE_ID_TOKEN, else the GitHub Actions token endpoint' })
            .option('enclave-json', { type: 'string', describe: 'the enclave predicate as JSON; default: from the image labels' })
            .conflicts('key', 'keyless'),
        ),
      load: async () => (await load()).attestSignCommand,
    },
    {
      command: 'verify <image>',
      describe: 'Verify the sigstore attestations attached to a pushed image',
      builder: (y) =>
        registryFlags(
          y
            .positional('image', { type: 'string', describe: 'docker://REGISTRY/REPOSITORY[:TAG|@DIGEST]' })
            .option('key', { type: 'string', describe: 'public (or private) P-256 key PEM the attestations must be signed with' })
            .option('certificate-identity', { type: 'string', describe: 'keyless: the signer identity (certificate SAN), exact' })
            .option('certificate-oidc-issuer', { type: 'string', describe: 'keyless: the OIDC issuer, exact' })
            .option('trusted-root', { type: 'string', describe: 'keyless: sigstore trusted_root.json (Fulcio CA, Rekor and CT log keys)' })
            .option('expect-mrenclave', { type: 'string', describe: 'MRENCLAVE the enclave attestation must carry (hex)' })
            .option('expect-mrsigner', { type: 'string', describe: 'MRSIGNER the enclave attestation must carry (hex)' })
            .option('require-provenance', { type: 'boolean', default: false, describe: 'also require a verified SLSA provenance attestation' })
            .conflicts('key', 'certificate-identity'),
        ),
      load: async () => (await load()).attestVerifyCommand,
    },
    {
      command: 'keygen <path>',
      describe: 'Create an ECDSA P-256 key for attestations (PATH mode 0600, PATH.pub)',
      builder: (y) =>
        y
          .positional('path', { type: 'string', describe: 'where to write the PEM private key' })
          .option('force', { type: 'boolean', default: false, describe: 'replace existing files' }),
      load: async () => (await load()).attestKeygenCommand,
    },
  ],
};
