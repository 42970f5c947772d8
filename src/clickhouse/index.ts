/**
 * Entry point of the host layer: build a tenant's Host from its configuration.
 */
import type { Host } from './host.js';
import { EmbeddedHost } from './embedded-host.js';
import { RemoteHost } from './remote-host.js';

export * from './host.js';
export { quoteIdentifier, quoteQualified, quoteString } from './sql.js';
export { EmbeddedHost } from './embedded-host.js';
export { RemoteHost } from './remote-host.js';
export { ClientHost } from './client-host.js';

/** A tenant's host configuration. */
export type HostConfig =
  | { kind: 'embedded' }
  | { kind: 'remote'; urls: string[]; user: string; password: string; readUser?: string; readPassword?: string; database?: string };

/**
 * Creates (does not start) the Host for a tenant. `opts.dataDir` is the embedded
 * engine's own data directory (unused for remote hosts). `database` of a remote config
 * is the default database for unqualified names when a query gives none.
 */
export function createHost(config: HostConfig, opts: { name: string; dataDir: string }): Host {
  if (config.kind === 'embedded') {
    return new EmbeddedHost({ name: opts.name, dataDir: opts.dataDir });
  }
  return new RemoteHost({
    name: opts.name,
    urls: config.urls,
    user: config.user,
    password: config.password,
    ...(config.readUser !== undefined ? { readUser: config.readUser } : {}),
    ...(config.readPassword !== undefined ? { readPassword: config.readPassword } : {}),
    ...(config.database !== undefined ? { database: config.database } : {}),
  });
}
