/** The Docker daemon (`docker-daemon:`) transport: source via `docker save`, destination via `docker load`. */
export type { DockerClient, DockerConnection, DockerImageHandle } from './client.ts';
export { connectDocker, daemonError, dockerConnectionFromEnv } from './client.ts';
export type { DaemonOptions } from './source.ts';
export { DaemonSource, daemonImageName } from './source.ts';
export type { DaemonDestinationOptions } from './destination.ts';
export { DaemonDestination, loadTag } from './destination.ts';
