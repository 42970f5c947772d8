/**
 * A remote host: a real ClickHouse server or cluster endpoint over HTTP(S).
 *
 * Reads run as the configured reader user with `readonly=1` sent as the last URL
 * setting of every read (a reader profile with readonly=2 allows that step down;
 * settings sent before it still apply). With readonly=1 the server refuses DDL,
 * INSERT, setting changes in the SQL text and, on old servers, all table functions.
 *
 * Without a reader user, reads use the internal user with the same trailing
 * `readonly=1`. That blocks writes and DDL for the request, but it is only as strong
 * as the server's handling of URL settings: the internal user itself can write, so
 * any bug that drops the setting drops the protection. Safe setups configure a
 * dedicated reader user whose profile has readonly=2 (or 1 with no per-query
 * settings) and no access to other databases.
 */
import { ClientHost } from './client-host.js';

/** Connection details of a remote host. */
export interface RemoteHostOptions {
  /** Tenant slug, for logs and errors. */
  name: string;
  /** Replica URLs without credentials; the next one is tried when one refuses connections. */
  urls: readonly string[];
  user: string;
  password: string;
  readUser?: string;
  readPassword?: string;
  /** Default database for unqualified names when a query gives none. */
  database?: string;
  requestTimeoutMs?: number;
}

/** A Host on a real ClickHouse server. */
export class RemoteHost extends ClientHost {
  constructor(options: RemoteHostOptions) {
    for (const url of options.urls) {
      const u = new URL(url);
      if (u.username !== '' || u.password !== '') throw new Error(`host ${options.name}: credentials must not be in the URL`);
    }
    super({
      kind: 'remote',
      name: options.name,
      urls: options.urls,
      internal: { user: options.user, password: options.password },
      reader: options.readUser !== undefined ? { user: options.readUser, password: options.readPassword ?? '' } : null,
      ...(options.database !== undefined ? { database: options.database } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
  }
}
