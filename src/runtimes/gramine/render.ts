/**
 * renderManifest: image config + image root + settings + policy selection + user fragment ->
 * the unsigned Gramine manifest, as an ordered object.
 *
 * Precedence, lowest first: image config (Env, WorkingDir, User, Entrypoint/Cmd) < template
 * (runtimes/gramine/manifest.template.toml) < settings < user fragment (with the checks of
 * merge.ts). Then cconv's lists go in: sgx.trusted_files = runtime files, the argv file, the
 * policy's trusted files, then the fragment's; sgx.allowed_files likewise; one encrypted mount
 * per encrypted file. LD_LIBRARY_PATH is the image's own, then the directories of its
 * /etc/ld.so.conf, then the template's; finally <pkglibdir>/runtime/glibc is put first.
 */
import { createHash } from 'node:crypto';
import { CconvError } from '../../errors.ts';
import type { FileSelection } from '../../policy/types.ts';
import { ldSoConfDirs } from '../../rootfs/index.ts';
import { findExecutable, imageArgv, imageEnv, imageWorkdir, serializeArgv } from './entrypoint.ts';
import { mergeFragment, type MergeContext } from './merge.ts';
import { resolveSettings, validateSettings } from './settings.ts';
import { loadTemplate, substitute } from './template.ts';
import { checkUntrustedCode } from './untrusted-code.ts';
import type { AddedFile, GramineSettings, ManifestTable, ManifestValue, RenderedManifest, RenderInput } from './types.ts';
import { resolveUser } from './user.ts';

/** Settings field -> the manifest key it writes (cpuFeatures writes sgx.cpu_features.<name>). */
export const SETTING_KEYS: Readonly<Partial<Record<keyof GramineSettings, string>>> = {
  enclaveSize: 'sgx.enclave_size',
  maxThreads: 'sgx.max_threads',
  edmm: 'sgx.edmm_enable',
  isvProdId: 'sgx.isvprodid',
  isvSvn: 'sgx.isvsvn',
  debug: 'sgx.debug',
  remoteAttestation: 'sgx.remote_attestation',
  logLevel: 'loader.log_level',
};

function table(parent: ManifestTable, key: string): ManifestTable {
  const v = parent[key];
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
  const t: ManifestTable = {};
  parent[key] = t;
  return t;
}

function list(parent: ManifestTable, key: string): ManifestValue[] {
  const v = parent[key];
  return Array.isArray(v) ? v : [];
}

function splitPathList(value: ManifestValue | undefined): string[] {
  return typeof value === 'string' ? value.split(':').filter((p) => p !== '') : [];
}

function explicitKeys(given: Partial<GramineSettings>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, key] of Object.entries(SETTING_KEYS)) {
    if (given[name as keyof GramineSettings] !== undefined) out.set(key, name);
  }
  for (const f of Object.keys(given.cpuFeatures ?? {})) out.set(`sgx.cpu_features.${f}`, `cpuFeatures.${f}`);
  return out;
}

function checkEntrypointSelected(entrypoint: string, selection: FileSelection | undefined): void {
  if (selection === undefined) return;
  const listed = [...selection.trusted, ...selection.allowed].some((f) => f.path === entrypoint);
  if (!listed) {
    throw new CconvError('E_CONFIG', `the entrypoint ${entrypoint} is not a trusted file under the policy`, {
      hint: `add --trust ${entrypoint}`,
    });
  }
}

/**
 * E_CONFIG when the image already has something at `path`, where cconv adds its own files, or a
 * non-directory (a file, a symlink) where one of its parent directories goes: the image's content
 * and the `key` setting collide, which another setting resolves (not the template).
 */
function checkOwnedPath(rootfs: RenderInput['rootfs'], path: string, key: 'pkglibdir' | 'argvPath', what: string): void {
  const parts = path.split('/').filter((p) => p !== '');
  for (let i = 1; i <= parts.length; i++) {
    const at = parts.slice(0, i).join('/');
    const e = rootfs.get(at);
    if (e === undefined) return;
    if (i < parts.length && e.type === 'dir') continue;
    const which = i === parts.length ? `already has /${at}` : `has a ${e.type} at /${at}`;
    throw new CconvError('E_CONFIG', `the image ${which}, where cconv puts ${what} (${key} ${path})`, {
      hint: `set "${key}" in the "gramine" section of the --config file to a path the image does not use`,
    });
  }
}

/**
 * Renders the manifest. Throws E_NO_ENTRYPOINT (no Entrypoint/Cmd), E_CONFIG (executable or user
 * not in the image, bad settings, entrypoint excluded by the policy, the image already using
 * pkglibdir or the argv file's path), E_MANIFEST_TEMPLATE (bad
 * template or refused fragment key). Deterministic: the same input gives a deep-equal object with
 * the same key order.
 */
export async function renderManifest(input: RenderInput): Promise<RenderedManifest> {
  const given = validateSettings(input.settings ?? {});
  const s = resolveSettings(given);
  const runtimedir = `${s.pkglibdir}/runtime/glibc`;
  const cfg = input.config.config;

  // Image config layer.
  const argv = imageArgv(cfg);
  const env = imageEnv(cfg);
  const workdir = imageWorkdir(cfg);
  const entrypoint = findExecutable(input.rootfs, argv[0]!, env.get('PATH')!, workdir);
  checkEntrypointSelected(entrypoint, input.selection);
  const user = await resolveUser(input.rootfs, cfg?.User);
  if (!env.has('HOME')) env.set('HOME', user.home ?? '/');
  checkOwnedPath(input.rootfs, s.pkglibdir, 'pkglibdir', "Gramine's runtime files");
  if (!s.insecureArgs) checkOwnedPath(input.rootfs, s.argvPath, 'argvPath', 'the trusted argv file');

  // Template layer, then image values under it.
  const m = substitute(input.template ?? (await loadTemplate()), { pkglibdir: s.pkglibdir, runtimedir });
  const loader = table(m, 'loader');
  const templateEnv = table(loader, 'env');
  const imageLibPath = splitPathList(env.get('LD_LIBRARY_PATH'));
  const mergedEnv: ManifestTable = {};
  for (const [k, v] of env) mergedEnv[k] = v;
  for (const [k, v] of Object.entries(templateEnv)) mergedEnv[k] = v;
  // The image's ld.so.conf directories (e.g. /opt/app/lib registered there) come after its own
  // LD_LIBRARY_PATH and before the template's standard directories, as its ld.so would search them.
  const templateLibPath = splitPathList(templateEnv['LD_LIBRARY_PATH']);
  const confDirs = (await ldSoConfDirs(input.rootfs)).filter((d) => !imageLibPath.includes(d) && !templateLibPath.includes(d));
  if (imageLibPath.length > 0 || confDirs.length > 0 || templateEnv['LD_LIBRARY_PATH'] !== undefined) {
    mergedEnv['LD_LIBRARY_PATH'] = [...imageLibPath, ...confDirs, ...templateLibPath].join(':');
  }
  loader['env'] = mergedEnv;
  loader['uid'] = BigInt(user.uid);
  loader['gid'] = BigInt(user.gid);
  let argvFile: AddedFile | undefined;
  if (s.insecureArgs) {
    loader['insecure__use_cmdline_argv'] = true;
  } else {
    const content = serializeArgv(argv);
    argvFile = { path: s.argvPath, content, sha256: createHash('sha256').update(content).digest('hex') };
    loader['argv_src_file'] = `file:${s.argvPath}`;
  }
  table(m, 'libos')['entrypoint'] = entrypoint;
  if (workdir !== undefined) table(m, 'fs')['start_dir'] = workdir;

  // Settings layer.
  loader['log_level'] = s.logLevel;
  const sgx = table(m, 'sgx');
  sgx['debug'] = s.debug;
  sgx['enclave_size'] = s.enclaveSize;
  sgx['max_threads'] = BigInt(s.maxThreads);
  sgx['edmm_enable'] = s.edmm;
  sgx['isvprodid'] = BigInt(s.isvProdId);
  sgx['isvsvn'] = BigInt(s.isvSvn);
  sgx['remote_attestation'] = s.remoteAttestation;
  if (Object.keys(s.cpuFeatures).length > 0) {
    const cpu = table(sgx, 'cpu_features');
    for (const f of ['avx', 'avx512', 'amx', 'mpx', 'pkru'] as const) {
      const v = s.cpuFeatures[f];
      if (v !== undefined) cpu[f] = v;
    }
  }

  // cconv's file lists, before the fragment so that its entries come after them.
  const sel = input.selection;
  const runtimeFiles: ManifestValue[] = input.runtimeTrustedFiles === undefined
    ? [`file:${runtimedir}/`]
    : input.runtimeTrustedFiles.map((f) => ({ uri: f.uri, sha256: f.sha256 }));
  const trusted: ManifestValue[] = [...runtimeFiles];
  if (argvFile !== undefined) trusted.push({ uri: `file:${argvFile.path}`, sha256: argvFile.sha256 });
  for (const f of sel?.trusted ?? []) trusted.push({ uri: f.uri, sha256: f.sha256 });
  sgx['trusted_files'] = [...trusted, ...list(sgx, 'trusted_files')];
  const allowed = [...(sel?.allowed ?? []).map((f) => f.uri), ...(sel?.allowedPaths ?? []).map((p) => `file:${p}`)];
  if (allowed.length > 0 || sgx['allowed_files'] !== undefined) sgx['allowed_files'] = [...allowed, ...list(sgx, 'allowed_files')];
  const fs = table(m, 'fs');
  const encryptedMounts = (sel?.encrypted ?? []).map((f) => ({ type: 'encrypted', path: f.path, uri: f.uri, key_name: s.encryptedKeyName }));
  fs['mounts'] = [...list(fs, 'mounts'), ...encryptedMounts];

  // Fragment layer.
  if (input.fragment !== undefined) {
    const ctx: MergeContext = { explicit: explicitKeys(given), debug: s.debug, protectedMounts: ['/', runtimedir] };
    mergeFragment(m, input.fragment, ctx);
  }

  // The runtime's glibc always comes first, so Gramine's ld.so and libc are the ones loaded.
  const finalEnv = table(table(m, 'loader'), 'env');
  const rest = splitPathList(finalEnv['LD_LIBRARY_PATH']).filter((p) => p !== runtimedir);
  finalEnv['LD_LIBRARY_PATH'] = [runtimedir, ...rest].join(':');

  // Allowed entries must not cover code: refused unless the allowUntrustedCode setting says so.
  const untrustedCode = await checkUntrustedCode({
    allowedFiles: table(m, 'sgx')['allowed_files'],
    fromPolicy: new Set(allowed),
    entrypoint,
    runtimeFiles: input.runtimeTrustedFiles?.map((f) => f.uri.slice('file:'.length)) ?? [`${runtimedir}/`],
    rootfs: input.rootfs,
    allow: s.allowUntrustedCode,
  });

  const createDirs = workdir !== undefined && input.rootfs.resolve(workdir.slice(1))?.type !== 'dir' && workdir !== '/' ? [workdir] : [];
  const out: RenderedManifest = { manifest: m, argv, entrypoint, uid: user.uid, gid: user.gid, createDirs, settings: s, untrustedCode };
  if (argvFile !== undefined) out.argvFile = argvFile;
  return out;
}
