/**
 * Registry connection options shared by every command that reads from or writes to a registry:
 * extra CA, TLS and plain-http escape hatches, the minimum transfer speed, and credentials
 * (--username with the password on stdin; else an Entra ID token for ACR from --entra-token-stdin
 * or CCONV_ACR_ENTRA_TOKEN; otherwise CCONV_REGISTRY_USERNAME/PASSWORD, then the Docker config).
 * One set applies to every registry a command talks to (the Entra token only to those answering
 * with ACR's challenge). Never logged.
 */
import type { Argv } from 'yargs';
import { CconvError } from '../../errors.ts';
import type { RegistryOptions } from '../../transports/registry/index.ts';
import type { CliIo } from '../command.ts';

/** Parsed registry options. */
export interface RegistryArgs {
  certFile?: string;
  username?: string;
  passwordStdin: boolean;
  entraTokenStdin?: boolean;
  entraTenant?: string;
  insecure?: boolean;
  plainHttp?: boolean;
  minSpeed?: number;
}

const GROUP = 'Registry:';

/** Adds --cert-file, --username, --password-stdin, --entra-token-stdin, --entra-tenant, --insecure, --plain-http and --min-speed. */
export function registryFlags(y: Argv): Argv {
  return y
    .option('cert-file', { type: 'string', group: GROUP, describe: 'PEM file of extra CA certificates for the registry' })
    .option('username', { type: 'string', group: GROUP, describe: 'registry user name (with --password-stdin); default: env or docker config credentials' })
    .option('password-stdin', { type: 'boolean', default: false, group: GROUP, describe: 'read the registry password from standard input' })
    .option('entra-token-stdin', { type: 'boolean', group: GROUP, describe: 'read a Microsoft Entra ID access token for ACR from standard input (default: env CCONV_ACR_ENTRA_TOKEN)' })
    .option('entra-tenant', { type: 'string', group: GROUP, describe: 'Entra ID tenant sent with the ACR token exchange' })
    .option('insecure', { type: 'boolean', group: GROUP, describe: 'do not verify the registry\'s TLS certificate (never in production)' })
    .option('plain-http', { type: 'boolean', group: GROUP, describe: 'talk plain HTTP to a localhost registry' })
    .option('min-speed', { type: 'number', group: GROUP, describe: 'fail a registry transfer slower than this many bytes/s over 30 s (0: never)', defaultDescription: '1024' });
}

/** Maps the registry flags onto the registry transport's options. */
export async function registryOptionsFrom(args: RegistryArgs, io: CliIo): Promise<RegistryOptions> {
  const options: RegistryOptions = { env: io.env };
  if (args.certFile !== undefined) options.caFile = args.certFile;
  if (args.insecure === true) options.insecure = true;
  if (args.plainHttp === true) options.plainHttp = true;
  if (args.minSpeed !== undefined) {
    if (!Number.isFinite(args.minSpeed) || args.minSpeed < 0) throw new CconvError('E_USAGE', `--min-speed must be a number of bytes per second >= 0, not ${String(args.minSpeed)}`);
    options.minSpeed = args.minSpeed;
  }
  if (args.entraTokenStdin === true && args.passwordStdin) {
    throw new CconvError('E_USAGE', '--entra-token-stdin and --password-stdin both read standard input; use one');
  }
  if (args.passwordStdin !== (args.username !== undefined)) throw new CconvError('E_USAGE', '--username and --password-stdin go together');
  if (args.username !== undefined) {
    const password = (await io.readStdin()).toString('utf8').replace(/\r?\n$/, '');
    if (password === '') throw new CconvError('E_USAGE', '--password-stdin read an empty password');
    options.credentials = { username: args.username, password };
  }
  if (args.entraTokenStdin === true) {
    const token = (await io.readStdin()).toString('utf8').trim();
    if (token === '') throw new CconvError('E_USAGE', '--entra-token-stdin read an empty token');
    options.entraToken = token;
  } else if (args.username === undefined && io.env.CCONV_ACR_ENTRA_TOKEN !== undefined && io.env.CCONV_ACR_ENTRA_TOKEN !== '') {
    options.entraToken = io.env.CCONV_ACR_ENTRA_TOKEN.trim();
  }
  if (args.entraTenant !== undefined) options.tenant = args.entraTenant;
  return options;
}
