import { growSharedBuffer, native, sharedBuffer } from './analysis.js';
import { fromNative } from './errors.js';
import { LruCache } from './lru.js';

/** Where a table reference goes: a qualified table, or a parenthesised subquery with an alias. */
export type RewriteTarget = { database: string; table: string } | { subquery: string; alias: string };

/**
 * Replaces table references of `sql`. Keys: the reference as written, unquoted (`t` or
 * `db.t`). A table target becomes `db`.`table` (plus ` AS `t`` when the table name changes
 * and the reference had no alias); a subquery target becomes `(subquery) AS alias` (the
 * reference's own alias is kept; no alias after `IN`). Every other byte is left as written.
 */
export function rewrite(sql: string, mapping: Readonly<Record<string, RewriteTarget>>): string {
  const flat: string[] = [];
  for (const key of Object.keys(mapping)) {
    const t = mapping[key]!;
    if ('subquery' in t) flat.push(key, 's', t.subquery, t.alias);
    else flat.push(key, 't', t.database, t.table);
  }
  try {
    return native().rewrite(sql, flat);
  } catch (err) {
    throw fromNative(err);
  }
}

/** One SQL node of a pipe. */
export interface PipeNodeInput { name: string; sql: string }

/** What a pipe's nodes may read. */
export interface CompileResources {
  /** the workspace database on the tenant's host */
  database: string;
  /** table: physical table name if different from name */
  datasources: readonly { name: string; table?: string }[];
  /** other pipes' published nodes, referenced by pipe name; sql is already self-contained (compiled) */
  endpoints: readonly { pipe: string; sql: string }[];
  /** row-level security: a SQL boolean filter per data source name; every read of it becomes (SELECT * FROM db.ds WHERE filter) AS alias */
  filters?: Readonly<Record<string, string>>;
}

/**
 * sql: the target node with every node inlined as `(subquery) AS name`, data sources
 * qualified to the workspace database. order: the pipe nodes the target needs, dependencies
 * first, target last. dependencies: per node in `order`, the names it reads directly
 * (nodes, data sources, endpoint pipes). datasources: data sources read, first use first.
 */
export interface CompileResult { sql: string; order: string[]; dependencies: Record<string, string[]>; datasources: string[] }

const COMPILE_CACHE_ENTRIES = 1000;
const compileCache = new LruCache<string, CompileResult>(COMPILE_CACHE_ENTRIES);

// One string holds the whole input: it is the cache key and the addon's argument.
// field = `${s.length}:${s}` (UTF-16 length), count = `${n}|`; no content can forge a separator.
function cacheKey(nodes: readonly PipeNodeInput[], target: string, r: CompileResources): string {
  let key = `${target.length}:${target}${r.database.length}:${r.database}${nodes.length}|`;
  for (const n of nodes) key += `${n.name.length}:${n.name}${n.sql.length}:${n.sql}`;
  key += `${r.datasources.length}|`;
  for (const d of r.datasources) {
    const t = d.table ?? '';
    key += `${d.name.length}:${d.name}${t.length}:${t}`;
  }
  key += `${r.endpoints.length}|`;
  for (const e of r.endpoints) key += `${e.pipe.length}:${e.pipe}${e.sql.length}:${e.sql}`;
  const filterNames = r.filters ? Object.keys(r.filters) : [];
  key += `${filterNames.length}|`;
  for (const name of filterNames) {
    const f = r.filters![name]!;
    key += `${name.length}:${name}${f.length}:${f}`;
  }
  return key;
}

function compileKey(key: string): CompileResult {
  const n = native();
  let res: string | number;
  try {
    res = n.compileKey(key);
    if (typeof res === 'number') {
      growSharedBuffer(res);
      res = n.compileKey(key);
    }
  } catch (err) {
    throw fromNative(err);
  }
  if (typeof res === 'number') throw new Error('colibri: compile buffer too small');
  const b = sharedBuffer();
  const nOrder = b[1]!;
  const nDs = b[2]!;
  let lenAt = 3 + nOrder;
  let pos = 0;
  const next = (): string => {
    const len = b[lenAt++]!;
    const s = res.slice(pos, pos + len);
    pos += len;
    return s;
  };
  const sql = next();
  const order: string[] = [];
  for (let i = 0; i < nOrder; i++) order.push(next());
  const dependencies: Record<string, string[]> = {};
  for (let i = 0; i < nOrder; i++) {
    const deps: string[] = [];
    const count = b[3 + i]!;
    for (let k = 0; k < count; k++) deps.push(next());
    dependencies[order[i]!] = deps;
  }
  const datasources: string[] = [];
  for (let i = 0; i < nDs; i++) datasources.push(next());
  return { sql, order, dependencies, datasources };
}

function compileUncachedImpl(nodes: readonly PipeNodeInput[], target: string, r: CompileResources): CompileResult {
  return compileKey(cacheKey(nodes, target, r));
}

/** compile() without the cache. */
export function compileUncached(nodes: readonly PipeNodeInput[], target: string, resources: CompileResources): CompileResult {
  return compileUncachedImpl(nodes, target, resources);
}

/**
 * The compile cache. Every lookup compares the whole input exactly (strings with ===, which is
 * a pointer test for the same string objects and a byte comparison otherwise); nothing is
 * ever reused on a hash or a caller's word alone.
 *  1. the last result per `nodes` array (WeakMap), for callers that keep their arrays;
 *  2. `options.cacheKey`: the last result per caller-provided key (e.g. pipe id + version +
 *     parameter values), verified field by field;
 *  3. by content: each string gets a small id from an intern table (V8 hashes a string once
 *     and keeps the hash in the string, so known strings cost one Map probe), and the result
 *     is cached under the short key of ids. Ids are never reused, so equal keys mean equal
 *     inputs.
 */
interface RecentCompile {
  target: string;
  fields: string[];
  resourceFields: string[];
  result: CompileResult;
}
let recent = new WeakMap<readonly PipeNodeInput[], RecentCompile>();
const KEYED_ENTRIES = 1000;
const keyed = new LruCache<string, RecentCompile>(KEYED_ENTRIES);

const INTERN_MAX_ENTRIES = 20_000;
const INTERN_MAX_CHARS = 32 << 20;
let intern = new Map<string, number>();
let internChars = 0;
let nextId = 0;

function idOf(s: string): number {
  let id = intern.get(s);
  if (id === undefined) {
    if (intern.size >= INTERN_MAX_ENTRIES || internChars + s.length > INTERN_MAX_CHARS) {
      intern = new Map(); // old ids are never given again: their cache entries just age out
      internChars = 0;
    }
    id = nextId++;
    intern.set(s, id);
    internChars += s.length;
  }
  return id;
}

// Ids only (digits), sections closed by '|': no two different inputs give the same key.
function contentKey(nodes: readonly PipeNodeInput[], target: string, r: CompileResources): string {
  let key = `${idOf(target)},${idOf(r.database)}|`;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    key += `${idOf(n.name)},${idOf(n.sql)},`;
  }
  key += '|';
  const ds = r.datasources;
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!;
    key += `${idOf(d.name)},${d.table === undefined ? '' : idOf(d.table)},`;
  }
  key += '|';
  const eps = r.endpoints;
  for (let i = 0; i < eps.length; i++) key += `${idOf(eps[i]!.pipe)},${idOf(eps[i]!.sql)},`;
  key += '|';
  if (r.filters) for (const name of Object.keys(r.filters)) key += `${idOf(name)},${idOf(r.filters[name]!)},`;
  return key;
}

function resourceFields(r: CompileResources): string[] {
  const out: string[] = [r.database];
  for (const d of r.datasources) out.push(d.name, d.table ?? '');
  out.push('|');
  for (const e of r.endpoints) out.push(e.pipe, e.sql);
  out.push('|');
  if (r.filters) for (const name of Object.keys(r.filters)) out.push(name, r.filters[name]!);
  return out;
}

function sameNodes(nodes: readonly PipeNodeInput[], fields: string[]): boolean {
  if (fields.length !== nodes.length * 2) return false;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.name !== fields[2 * i] || n.sql !== fields[2 * i + 1]) return false;
  }
  return true;
}

function sameResources(r: CompileResources, fields: string[]): boolean {
  let k = 0;
  if (r.database !== fields[k++]) return false;
  for (const d of r.datasources) if (d.name !== fields[k++] || (d.table ?? '') !== fields[k++]) return false;
  if (fields[k++] !== '|') return false;
  for (const e of r.endpoints) if (e.pipe !== fields[k++] || e.sql !== fields[k++]) return false;
  if (fields[k++] !== '|') return false;
  if (r.filters) {
    for (const name of Object.keys(r.filters)) if (name !== fields[k++] || r.filters[name] !== fields[k++]) return false;
  }
  return k === fields.length;
}

function same(last: RecentCompile | undefined, nodes: readonly PipeNodeInput[], target: string, r: CompileResources): last is RecentCompile {
  return last !== undefined && last.target === target && sameNodes(nodes, last.fields) && sameResources(r, last.resourceFields);
}

function snapshot(nodes: readonly PipeNodeInput[], target: string, r: CompileResources, result: CompileResult): RecentCompile {
  const fields: string[] = [];
  for (const n of nodes) fields.push(n.name, n.sql);
  return { target, fields, resourceFields: resourceFields(r), result };
}

/** Options of compile(). */
export interface CompileOptions {
  /**
   * A name for this input chosen by the caller (e.g. `${pipeId}:${version}:${paramsJson}`):
   * the last result compiled under it is returned when every input string is still equal
   * (verified, so a stale or careless key costs a compile, never a wrong result).
   */
  cacheKey?: string;
}

/**
 * Compiles the pipe node `target` into one query. Errors: a cycle → SqlPolicyError(400)
 * "Cycle in pipe nodes: a -> b -> a"; an unknown name → SqlPolicyError(400)
 * "Resource '<x>' not found"; invalid node SQL → SqlSyntaxError (message names the node);
 * `x IN <WITH expression alias>` → SqlPolicyError(400). Every comment of the output is one
 * space. Results are cached by nodes + target + resources (see above); cached results are
 * frozen.
 */
export function compile(
  nodes: readonly PipeNodeInput[],
  target: string,
  resources: CompileResources,
  options?: CompileOptions,
): CompileResult {
  const last = recent.get(nodes);
  if (same(last, nodes, target, resources)) return last.result;
  const name = options?.cacheKey;
  if (name !== undefined) {
    const named = keyed.get(name);
    if (same(named, nodes, target, resources)) return named.result;
  }
  const key = contentKey(nodes, target, resources);
  let res = compileCache.get(key);
  if (res === undefined) {
    res = compileKey(cacheKey(nodes, target, resources));
    for (const k of Object.keys(res.dependencies)) Object.freeze(res.dependencies[k]);
    Object.freeze(res.dependencies);
    Object.freeze(res.order);
    Object.freeze(res.datasources);
    Object.freeze(res);
    compileCache.set(key, res);
    // Remembered per array only on a compile: a WeakMap entry for every new array of a
    // cache hit would cost more than the hit itself.
    recent.set(nodes, snapshot(nodes, target, resources, res));
  }
  if (name !== undefined) keyed.set(name, snapshot(nodes, target, resources, res));
  return res;
}

/** Empties the compile cache (tests, benchmarks). */
export function clearCompileCache(): void {
  compileCache.clear();
  keyed.clear();
  recent = new WeakMap();
  intern = new Map();
  internChars = 0;
}
