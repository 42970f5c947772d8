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
 * Fast path of the compile cache: the last result per `nodes` array, reused only when
 * target, every node field and every resource field are still equal (===: pointer-fast for
 * the same strings, exact otherwise), so an array mutated in place never gives a stale result.
 */
interface RecentCompile {
  target: string;
  fields: string[];
  resourceFields: string[];
  result: CompileResult;
}
let recent = new WeakMap<readonly PipeNodeInput[], RecentCompile>();

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

/**
 * Compiles the pipe node `target` into one query. Errors: a cycle → SqlPolicyError(400)
 * "Cycle in pipe nodes: a -> b -> a"; an unknown name → SqlPolicyError(400)
 * "Resource '<x>' not found"; invalid node SQL → SqlSyntaxError (message names the node).
 * Results are cached by nodes + target + resources; cached results are frozen.
 */
export function compile(nodes: readonly PipeNodeInput[], target: string, resources: CompileResources): CompileResult {
  const last = recent.get(nodes);
  if (
    last !== undefined &&
    last.target === target &&
    sameNodes(nodes, last.fields) &&
    sameResources(resources, last.resourceFields)
  ) {
    return last.result;
  }
  const remember = (result: CompileResult): CompileResult => {
    const fields: string[] = [];
    for (const n of nodes) fields.push(n.name, n.sql);
    recent.set(nodes, { target, fields, resourceFields: resourceFields(resources), result });
    return result;
  };
  const key = cacheKey(nodes, target, resources);
  const hit = compileCache.get(key);
  if (hit) return remember(hit);
  const res = compileKey(key);
  for (const k of Object.keys(res.dependencies)) Object.freeze(res.dependencies[k]);
  Object.freeze(res.dependencies);
  Object.freeze(res.order);
  Object.freeze(res.datasources);
  Object.freeze(res);
  compileCache.set(key, res);
  return remember(res);
}

/** Empties the compile cache (tests, benchmarks). */
export function clearCompileCache(): void {
  compileCache.clear();
  recent = new WeakMap();
}
