/** `assembleImage`: builds the output layers into a private temp dir and the config and manifest over them. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CconvError, wrapIoError } from '../errors.ts';
import { digestOf } from '../image/digest.ts';
import type { Layer } from '../image/image.ts';
import { MediaType, type Descriptor } from '../image/types.ts';
import { runTask, silentReporter, throwIfAborted } from '../progress.ts';
import type { EntryType } from '../rootfs/types.ts';
import { buildCconvLayer } from './cconv-layer.ts';
import { buildConfig, buildManifest, configDescriptor, type LabelInput } from './config.ts';
import { openSpooled, type SpooledLayer } from './layer-file.ts';
import { normalizeImagePath } from './paths.ts';
import { countShadowed, findLayersWith, rewriteLayer } from './rewrite.ts';
import { buildRuntimeLayer } from './runtime-layer.ts';
import type { AssembledImage, AssembledLayer, AssembleInput } from './types.ts';

/** OCI equivalents of Docker layer media types (same bytes, so the blob and its digest are kept). */
const OCI_EQUIVALENT: Readonly<Record<string, string>> = {
  'application/vnd.docker.image.rootfs.diff.tar': MediaType.OciLayer,
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayerForeignGzip]: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

/** A source layer's descriptor for the OCI output manifest: the same blob, Docker media types mapped to OCI ones. */
export function keptDescriptor(d: Descriptor): Descriptor {
  const mediaType = OCI_EQUIVALENT[d.mediaType] ?? d.mediaType;
  return mediaType === d.mediaType ? d : { ...d, mediaType };
}

function spooled(l: SpooledLayer, role: AssembledLayer['role']): AssembledLayer {
  return { descriptor: l.descriptor, diffId: l.diffId, kept: false, role, open: () => openSpooled(l.file), file: l.file };
}

function kept(layer: Layer): AssembledLayer {
  const l: AssembledLayer = { descriptor: keptDescriptor(layer.descriptor), diffId: layer.diffId, kept: true, role: 'source', open: () => layer.openStored() };
  if (layer.blobFile !== undefined) l.file = layer.blobFile;
  return l;
}

/** E_CONFIG when the app image has something at a runtime path that would shadow the runtime layer. */
function checkRuntimeConflicts(input: AssembleInput, runtime: ReadonlyMap<string, EntryType>): void {
  for (const [path, type] of runtime) {
    const app = input.sourceRootfs.get(path);
    if (app === undefined || (app.type === 'dir' && type === 'dir')) continue;
    throw new CconvError('E_CONFIG', `the app image has a ${app.type} at /${path}, where the runtime has a ${type}: it would hide the runtime's files`, {
      hint: 'the app image must not carry its own copy of the runtime (Gramine pkglibdir, loader)',
    });
  }
}

/**
 * Builds the output image (design: index.ts). Reports task `assemble` with byte advances (layer
 * bytes scanned and tar bytes written). On error the temp dir is removed and the error rethrown:
 * E_CONFIG (bad or conflicting paths), E_UNSUPPORTED (hardlink involving an encrypted file),
 * E_SIZE_MISMATCH (ciphertext file size), E_IO, and the layer errors of the source and runtime
 * (E_LAYER_CORRUPT, E_DIGEST_MISMATCH). The source image must stay open until the result is written.
 * Once `report.signal` is aborted it stops between layers (a cancelled build's source streams stop
 * on their own: pipeline/abortable.ts) and fails the same way, with the signal's E_ABORTED.
 */
export async function assembleImage(input: AssembleInput): Promise<AssembledImage> {
  const report = input.report ?? silentReporter;
  const stopped = (): void => throwIfAborted(report.signal);
  if (!Number.isSafeInteger(input.epoch) || input.epoch < 0) throw new CconvError('E_CONFIG', `epoch ${input.epoch} is not a non-negative integer number of seconds`);
  if (input.entrypoint.length === 0) throw new CconvError('E_CONFIG', 'the output image needs an entrypoint (the runtime loader argv)');
  const encrypted = new Set(input.encrypted.map((e) => normalizeImagePath(e.path, 'encrypted file')));
  const encrypts = input.encrypts;
  // A plaintext the policy encrypts is in no app layer, live or not (rewrite.ts).
  const drops = encrypts === undefined ? (path: string) => encrypted.has(path) : (path: string) => encrypted.has(path) || encrypts(`/${path}`);
  let dir: string;
  try {
    dir = await mkdtemp(join(input.tmpDir ?? tmpdir(), 'cconv-assemble-'));
  } catch (err) {
    throw wrapIoError(err, 'creating the assembler temp dir');
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return await runTask(report, 'assemble', 'Assembling the output image', async (advance) => {
      const source = input.source;
      const hits = encrypted.size > 0 || encrypts !== undefined ? await findLayersWith(source.layers, drops, advance) : new Map<number, string[]>();
      stopped();
      const runtime = await buildRuntimeLayer(input.runtime.rootfs, input.runtime.paths, input.runtime.added ?? [], {
        epoch: input.epoch,
        workDir: dir,
        file: join(dir, 'layer-runtime'),
        onBytes: advance,
        appEntry: (path) => input.sourceRootfs.get(path),
      });
      checkRuntimeConflicts(input, runtime.entries);
      const app: AssembledLayer[] = [];
      for (const layer of source.layers) {
        stopped();
        if (!hits.has(layer.index)) app.push(kept(layer));
        else app.push(spooled(await rewriteLayer(layer, drops, join(dir, `layer-source-${layer.index}`), advance), 'source'));
      }
      stopped();
      const lowerType = (path: string): EntryType | undefined => runtime.entries.get(path) ?? input.sourceRootfs.get(path)?.type;
      const cconv = await buildCconvLayer({
        files: input.files,
        encrypted: input.encrypted,
        createDirs: input.createDirs,
        sourceRootfs: input.sourceRootfs,
        lowerType,
        epoch: input.epoch,
        file: join(dir, 'layer-cconv'),
        onBytes: advance,
      });
      stopped();
      // The runtime above the app's layers: no whiteout or opaque directory of the app can hide it.
      const layers = [...app, spooled(runtime.layer, 'runtime'), spooled(cconv, 'cconv')];
      const labels: LabelInput = { identity: input.identity, runtimeInfo: input.runtimeInfo, sourceDigest: source.manifestDigest, sourceRef: input.sourceRef, ...(input.untrustedCode ? { untrustedCode: true } : {}) };
      const configBytes = buildConfig({
        ...labels,
        source: source.config,
        entrypoint: input.entrypoint,
        cmd: input.cmd ?? null,
        diffIds: layers.map((l) => l.diffId),
        rewritten: source.layers.map((l) => hits.has(l.index)),
        runtimeComment: `cconv: ${input.runtimeInfo.name} ${input.runtimeInfo.version} runtime`,
        epoch: input.epoch,
      });
      const config = configDescriptor(configBytes);
      const manifestBytes = buildManifest(config, layers.map((l) => l.descriptor), labels);
      return {
        manifestBytes,
        manifestDigest: digestOf(manifestBytes),
        manifestMediaType: MediaType.OciManifest,
        configBytes,
        configDescriptor: config,
        layers,
        rewritten: [...hits.keys()].sort((a, b) => a - b),
        droppedShadowed: countShadowed(hits, input.sourceRootfs),
        close,
      };
    });
  } catch (err) {
    await close();
    throw err;
  }
}
