/**
 * Per-workspace views of the catalog collections (data sources, pipes), rebuilt only
 * when the state changes (the store's `revision`). A request then finds its pipe or
 * data source with a map lookup instead of scanning every tenant's records, so the
 * cost of a request does not grow with the number of tenants registered.
 */
import type { StateStore, StateValue } from '../state/store.js';

interface Indexed<T> {
  list: T[];
  byName: Map<string, T>;
}

interface StoreIndex {
  revision: number;
  collections: Map<string, Map<string, Indexed<StateValue>>>;
}

const indexes = new WeakMap<StateStore, StoreIndex>();

/** The records of `collection` in `workspaceId` (insertion order) and by name and id. */
export function workspaceRecords<T extends StateValue & { workspaceId: string; name: string; id: string }>(
  store: StateStore,
  collection: 'datasources' | 'pipes',
  workspaceId: string,
): Indexed<T> {
  let index = indexes.get(store);
  if (index === undefined || index.revision !== store.revision) {
    index = { revision: store.revision, collections: new Map() };
    indexes.set(store, index);
  }
  let byWorkspace = index.collections.get(collection);
  if (byWorkspace === undefined) {
    byWorkspace = new Map();
    for (const rec of store.list<T>(collection)) {
      let entry = byWorkspace.get(rec.workspaceId);
      if (entry === undefined) {
        entry = { list: [], byName: new Map() };
        byWorkspace.set(rec.workspaceId, entry);
      }
      entry.list.push(rec);
      entry.byName.set(rec.name, rec);
      if (!entry.byName.has(rec.id)) entry.byName.set(rec.id, rec);
    }
    index.collections.set(collection, byWorkspace);
  }
  return (byWorkspace.get(workspaceId) as Indexed<T> | undefined) ?? { list: [], byName: new Map() };
}
