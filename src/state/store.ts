/**
 * Control-plane state: tenants, workspaces, data sources, token hashes, pipes.
 * It lives in memory; a StateStore makes every committed change durable before
 * `commit` resolves. Implementations: a local journal + snapshot (the default,
 * `file-store.ts`) and, later, Redis for several instances sharing state.
 *
 * The model is deliberately plain: named collections of JSON records keyed by id.
 * Domain modules (tenancy, catalog, auth) own the record types and wrap these
 * calls in typed functions.
 */
export type Collection = 'meta' | 'tenants' | 'workspaces' | 'tokens' | 'datasources' | 'pipes' | 'revocations';

export const COLLECTIONS: readonly Collection[] = ['meta', 'tenants', 'workspaces', 'tokens', 'datasources', 'pipes', 'revocations'];

/** JSON-serialisable record. */
export type StateValue = { readonly [key: string]: unknown };

export type Mutation =
  | { op: 'put'; collection: Collection; id: string; value: StateValue }
  | { op: 'delete'; collection: Collection; id: string };

export interface StateStore {
  /** Load the persisted state into memory. Must be called once before anything else. */
  open(): Promise<void>;
  /** A record, or undefined. Reads are served from memory. */
  get<T extends StateValue>(collection: Collection, id: string): T | undefined;
  /**
   * A number that changes whenever the state in memory changes (any commit). Caches
   * derived from the state key on it instead of rescanning collections.
   */
  readonly revision: number;
  /** Every record of a collection, in insertion order. */
  list<T extends StateValue>(collection: Collection): T[];
  /**
   * Apply the mutations atomically (all or none, also across a crash) and make them
   * durable. When the promise resolves the change survives `kill -9` of the process.
   * Memory is updated only once the change is durable; readers never see a change
   * that could still be lost.
   */
  commit(mutations: readonly Mutation[]): Promise<void>;
  /** Write a snapshot and drop the journal entries it covers. */
  compact(): Promise<void>;
  /** Flush pending work and release files. Idempotent. */
  close(): Promise<void>;
}
