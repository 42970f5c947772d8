/** What the API routers share: configuration, state, hosts, the insert batcher. */
import type { ServerConfig } from './config.js';
import type { StateStore } from '../state/store.js';
import type { HostRegistry } from '../tenancy/hosts.js';
import type { InsertBatcher } from '../ingest/batcher.js';

export interface Services {
  config: ServerConfig;
  store: StateStore;
  hosts: HostRegistry;
  batcher: InsertBatcher;
  /** False until state is loaded and bootstrap finished; false again while shutting down. */
  isReady(): boolean;
}
