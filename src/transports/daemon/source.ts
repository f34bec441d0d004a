/**
 * An image in the Docker daemon as an ImageSource: `inspect` (to fail early and clearly), then
 * `docker save` streamed into a temp file and read by the docker-archive source, which spools it
 * (a save tar lists its manifest last). The temp file is removed once the archive is opened, or on
 * any failure; the archive source's own spool goes with Image.close().
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { CconvError } from '../../errors.ts';
import { BULK_WRITE_BUFFER } from '../../files.ts';
import type { Image } from '../../image/image.ts';
import { runTask, silentReporter } from '../../progress.ts';
import { DockerArchiveSource } from '../docker-archive.ts';
import type { ImageReference, ImageSource, OpenOptions } from '../types.ts';
import { connectDocker, daemonError, type DockerClient } from './client.ts';

type DaemonRef = ImageReference & { transport: 'docker-daemon' };

/** Options of the daemon transports; `docker` defaults to a dockerode client from the environment. */
export interface DaemonOptions {
  docker?: DockerClient;
}

/** The name the daemon knows the reference by: `NAME@DIGEST` or `NAME:TAG`. */
export function daemonImageName(ref: DaemonRef): string {
  return ref.digest !== undefined ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`;
}

/** Reads an image from the Docker daemon (`docker-daemon:`). */
export class DaemonSource implements ImageSource {
  readonly reference: DaemonRef;
  private readonly options: DaemonOptions;

  constructor(reference: DaemonRef, options: DaemonOptions = {}) {
    this.reference = reference;
    this.options = options;
  }

  /** Saves the image from the daemon and opens it; temp files go under options.tmpDir. */
  async open(options: OpenOptions = {}): Promise<Image> {
    const name = daemonImageName(this.reference);
    const docker = this.options.docker ?? connectDocker();
    const image = docker.getImage(name);
    try {
      await image.inspect();
    } catch (err) {
      throw daemonError(err, `inspecting ${name}`, name);
    }
    const dir = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'cconv-daemon-')).catch((err: unknown) => {
      throw new CconvError('E_IO', `creating a temp directory: ${(err as Error).message}`, { cause: err });
    });
    try {
      const file = join(dir, 'image.tar');
      await runTask(options.report ?? silentReporter, `save:${name}`, `Exporting ${name} from Docker`, async (advance) => {
        let tar: Readable;
        try {
          tar = (await image.get()) as Readable;
        } catch (err) {
          throw daemonError(err, `exporting ${name}`, name);
        }
        tar.on('data', (chunk: Buffer) => advance(chunk.length));
        try {
          await pipeline(tar, createWriteStream(file, { flags: 'wx', highWaterMark: BULK_WRITE_BUFFER }), options.signal ? { signal: options.signal } : {});
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS') throw new CconvError('E_IO', `writing ${file}: ${code}`, { cause: err });
          throw daemonError(err, `exporting ${name}`);
        }
      });
      return await new DockerArchiveSource({ transport: 'docker-archive', file }).open(options);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
