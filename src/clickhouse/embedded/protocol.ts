/**
 * Messages between the embedded host's parent (supervisor) and its child process,
 * over the IPC channel of `child_process.fork`. Secrets travel only here: never in
 * argv (visible to every local user) nor in the environment.
 */

/** Parent → child, once, right after spawn. */
export interface InitMessage {
  type: 'init';
  /** Password of the `internal` user (DDL, inserts, Colibri's own reads). */
  internalPassword: string;
  /** Password of the `reader` user (tenant reads, readonly=1 forced). */
  readerPassword: string;
  /** Loopback port to listen on; 0 picks a free one. */
  port: number;
}

/** Child → parent: the HTTP interface is listening. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
}

/** Child → parent: startup failed (the child exits right after). Never contains secrets. */
export interface FatalMessage {
  type: 'fatal';
  message: string;
}

export type ChildMessage = ReadyMessage | FatalMessage;

/** User names of the embedded HTTP interface. */
export const INTERNAL_USER = 'internal';
export const READER_USER = 'reader';
