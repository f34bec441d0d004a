/**
 * Encrypts the files a policy marks `encrypt`, streaming each from the image's layers into a
 * Gramine protected file in a private temp dir. The assembler puts the ciphertexts in the output
 * image; the plaintext never touches the disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncryptedFile } from '../assemble/index.ts';
import { CconvError, wrapIoError } from '../errors.ts';
import { encryptToFile, pfBoundPath, PF_NODE_SIZE, type SecretKey } from '../encrypt/index.ts';
import type { SelectedFile } from '../policy/index.ts';
import { runTask, type Reporter } from '../progress.ts';
import type { Rootfs } from '../rootfs/types.ts';

/** Ciphertexts written for a build; `close()` removes them. */
export interface EncryptedFiles {
  files: EncryptedFile[];
  /** Total plaintext bytes encrypted. */
  bytes: number;
  close(): Promise<void>;
}

/**
 * Encrypts `selected` (from the policy selection) with `key`. Each file is bound to the path
 * Gramine opens it by: cconv mounts every encrypted file at its own path with `uri = file:PATH`
 * under the chroot `fs.root = file:/`, so the bound path is the in-image path itself.
 * A selected symlink is refused (E_UNSUPPORTED): its target's plaintext would stay in the image.
 */
export async function encryptSelected(
  rootfs: Rootfs,
  selected: readonly SelectedFile[],
  key: SecretKey,
  options: { tmpDir?: string; report: Reporter },
): Promise<EncryptedFiles> {
  for (const f of selected) {
    if (f.target !== undefined) {
      throw new CconvError('E_UNSUPPORTED', `${f.path} is a symlink to ${f.target}; cconv encrypts regular files only`, {
        hint: `encrypt the file it points to (--encrypt ${f.target}) and exclude the link`,
      });
    }
  }
  let dir: string;
  try {
    dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'cconv-encrypt-'));
  } catch (err) {
    throw wrapIoError(err, 'creating a temp dir for encrypted files');
  }
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    const byPath = new Map(selected.map((f, i) => [f.path.slice(1), { f, file: join(dir, `${i}.pf`) }]));
    const files: EncryptedFile[] = [];
    const total = selected.reduce((n, f) => n + f.size, 0);
    await runTask(options.report, 'encrypt', `Encrypting ${selected.length} files`, async (advance) => {
      await rootfs.readContents(
        (e) => byPath.has(e.path),
        async (e, content) => {
          const { f, file } = byPath.get(e.path)!;
          const counted = (async function* () {
            for await (const chunk of content) {
              advance((chunk as Buffer).length);
              yield chunk as Buffer;
            }
          })();
          const out = await encryptToFile(counted, file, { key: key.expose(), path: pfBoundPath({ path: f.path, uri: `file:${f.path}` }, f.path), size: f.size });
          files.push({ path: f.path, ciphertextFile: file, size: out.nodes * PF_NODE_SIZE });
        },
      );
    }, total);
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { files, bytes: total, close };
  } catch (err) {
    await close();
    throw err;
  }
}
