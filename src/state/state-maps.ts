/**
 * The in-memory model shared by every StateStore: one ordered Map per collection,
 * plus the validation and freezing of mutations.
 *
 * Values are stored as deep-frozen copies made by a JSON round trip at commit time
 * (the store serialises them for the journal anyway). Reads hand out those frozen
 * objects without copying, so reads are free and a caller cannot mutate the store's
 * memory by accident (it throws in strict-mode code). The copy also means memory
 * holds exactly what a recovery from disk would produce (JSON semantics: `undefined`
 * fields dropped, Dates become strings, and so on).
 */
import { COLLECTIONS, type Collection, type Mutation, type StateValue } from './store.js';

/** Mutations ready to commit: the JSON text for the journal and a frozen copy for memory. */
export interface PreparedMutations {
  /** `JSON.stringify` of the mutations, as written into a journal record. */
  readonly json: string;
  /** Deep-frozen, validated copy parsed back from `json`. */
  readonly mutations: readonly Mutation[];
}

const COLLECTION_SET: ReadonlySet<string> = new Set<string>(COLLECTIONS);

/** Freeze an object graph (JSON data: no cycles) in place and return it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/**
 * Check that parsed JSON is a list of well-formed mutations. Throws a TypeError
 * naming the first problem (never the record contents).
 */
export function validateMutations(parsed: unknown): Mutation[] {
  if (!Array.isArray(parsed)) throw new TypeError('mutations must be an array');
  parsed.forEach((m: unknown, i: number) => {
    if (typeof m !== 'object' || m === null) throw new TypeError(`mutation ${i} is not an object`);
    const r = m as Record<string, unknown>;
    if (r.op !== 'put' && r.op !== 'delete') throw new TypeError(`mutation ${i}: op must be 'put' or 'delete'`);
    if (typeof r.collection !== 'string' || !COLLECTION_SET.has(r.collection)) {
      throw new TypeError(`mutation ${i}: unknown collection`);
    }
    if (typeof r.id !== 'string' || r.id.length === 0) throw new TypeError(`mutation ${i}: id must be a non-empty string`);
    if (r.op === 'put' && (typeof r.value !== 'object' || r.value === null || Array.isArray(r.value))) {
      throw new TypeError(`mutation ${i}: value must be a JSON object`);
    }
  });
  return parsed as Mutation[];
}

/** Serialise, copy, validate and freeze mutations. Throws on anything not JSON-serialisable. */
export function prepareMutations(mutations: readonly Mutation[]): PreparedMutations {
  const json = JSON.stringify(mutations.map(normalise));
  if (json === undefined) throw new TypeError('mutations are not JSON-serialisable');
  const copy = deepFreeze(validateMutations(JSON.parse(json)));
  return { json, mutations: copy };
}

/** Keep only the fields of a mutation (drop anything extra a caller attached). */
function normalise(m: Mutation): unknown {
  if (typeof m !== 'object' || m === null) return m;
  return m.op === 'put'
    ? { op: m.op, collection: m.collection, id: m.id, value: m.value }
    : { op: m.op, collection: m.collection, id: m.id };
}

/** Snapshot form of the state: per collection, `[id, value]` pairs in insertion order. */
export type StateDump = Partial<Record<Collection, Array<[string, StateValue]>>>;

/** Ordered, frozen records by collection and id. */
export class StateMaps {
  private readonly maps = new Map<Collection, Map<string, StateValue>>();

  constructor() {
    for (const c of COLLECTIONS) this.maps.set(c, new Map());
  }

  /** The frozen record, or undefined. */
  get(collection: Collection, id: string): StateValue | undefined {
    return this.map(collection).get(id);
  }

  /** A new array of the collection's frozen records, in insertion order. */
  list(collection: Collection): StateValue[] {
    return Array.from(this.map(collection).values());
  }

  /** Apply already validated and frozen mutations, in order. A re-put keeps its place. */
  /** Incremented by every apply and load: a cheap "anything changed?" check for caches. */
  revision = 0;

  apply(mutations: readonly Mutation[]): void {
    this.revision += 1;
    for (const m of mutations) {
      const map = this.map(m.collection);
      if (m.op === 'put') map.set(m.id, m.value);
      else map.delete(m.id);
    }
  }

  /** Every collection as `[id, value]` pairs, in insertion order (values shared, frozen). */
  dump(): StateDump {
    const out: StateDump = {};
    for (const [c, map] of this.maps) out[c] = Array.from(map.entries());
    return out;
  }

  /** Replace the content with a dump (validated; values frozen). */
  load(dump: unknown): void {
    this.revision += 1;
    if (typeof dump !== 'object' || dump === null) throw new TypeError('state dump must be an object');
    for (const map of this.maps.values()) map.clear();
    for (const [c, entries] of Object.entries(dump as Record<string, unknown>)) {
      if (!COLLECTION_SET.has(c)) throw new TypeError('state dump has an unknown collection');
      if (!Array.isArray(entries)) throw new TypeError('state dump collection must be an array');
      const map = this.map(c as Collection);
      for (const e of entries as unknown[]) {
        if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'object' || e[1] === null) {
          throw new TypeError('state dump entry must be [id, object]');
        }
        map.set(e[0], deepFreeze(e[1] as StateValue));
      }
    }
  }

  private map(collection: Collection): Map<string, StateValue> {
    const map = this.maps.get(collection);
    if (!map) throw new TypeError('unknown collection');
    return map;
  }
}
