/**
 * A StateStore without persistence, for unit tests of other modules. Same
 * semantics as FileStateStore: validation, atomic commits, insertion order,
 * deep-frozen values, memory changed only when `commit` resolves.
 */
import { prepareMutations, StateMaps } from './state-maps.js';
import type { Collection, Mutation, StateStore, StateValue } from './store.js';

/** In-memory StateStore: nothing survives the process. */
export class MemoryStateStore implements StateStore {
  private readonly state = new StateMaps();
  private opened = false;
  private closed = false;

  /** Marks the store usable. */
  async open(): Promise<void> {
    if (this.opened) throw new Error('state store is already open');
    this.opened = true;
  }

  /** Changes with every change of the state in memory. */
  get revision(): number {
    return this.state.revision;
  }

  /** The frozen record, or undefined. */
  get<T extends StateValue>(collection: Collection, id: string): T | undefined {
    this.assertOpened();
    return this.state.get(collection, id) as T | undefined;
  }

  /** The collection's frozen records in insertion order (a new array). */
  list<T extends StateValue>(collection: Collection): T[] {
    this.assertOpened();
    return this.state.list(collection) as T[];
  }

  /** Validate and apply all mutations, or none. */
  async commit(mutations: readonly Mutation[]): Promise<void> {
    this.assertOpen();
    const prepared = prepareMutations(mutations);
    await Promise.resolve(); // like the file store: applied asynchronously, never before the promise settles
    if (this.closed) throw new Error('state store is closed');
    this.state.apply(prepared.mutations);
  }

  /** Nothing to compact. */
  async compact(): Promise<void> {
    this.assertOpen();
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Reads stay allowed after close (requests finishing during shutdown). */
  private assertOpened(): void {
    if (!this.opened) throw new Error('state store is not open: call open() first');
  }

  private assertOpen(): void {
    this.assertOpened();
    if (this.closed) throw new Error('state store is closed');
  }
}
