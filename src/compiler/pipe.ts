import { native } from './analysis.js';
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

function cacheKey(nodes: readonly PipeNodeInput[], target: string, r: CompileResources): string {
  // Length-prefixed fields: no separator can be forged by the content.
  let key = `${target.length}:${target}${r.database.length}:${r.database}|${nodes.length}`;
  for (const n of nodes) key += `${n.name.length}:${n.name}${n.sql.length}:${n.sql}`;
  key += `|${r.datasources.length}`;
  for (const d of r.datasources) {
    const t = d.table ?? '';
    key += `${d.name.length}:${d.name}${t.length}:${t}`;
  }
  key += `|${r.endpoints.length}`;
  for (const e of r.endpoints) key += `${e.pipe.length}:${e.pipe}${e.sql.length}:${e.sql}`;
  if (r.filters) {
    for (const name of Object.keys(r.filters)) {
      const f = r.filters[name]!;
      key += `|${name.length}:${name}${f.length}:${f}`;
    }
  }
  return key;
}

function compileUncachedImpl(nodes: readonly PipeNodeInput[], target: string, r: CompileResources): CompileResult {
  const nodesFlat: string[] = [];
  for (const n of nodes) nodesFlat.push(n.name, n.sql);
  const dsFlat: string[] = [];
  for (const d of r.datasources) dsFlat.push(d.name, d.table ?? '');
  const epFlat: string[] = [];
  for (const e of r.endpoints) epFlat.push(e.pipe, e.sql);
  const filtersFlat: string[] = [];
  if (r.filters) for (const name of Object.keys(r.filters)) filtersFlat.push(name, r.filters[name]!);
  try {
    return native().compile(target, r.database, nodesFlat, dsFlat, epFlat, filtersFlat);
  } catch (err) {
    throw fromNative(err);
  }
}

/** compile() without the cache. */
export function compileUncached(nodes: readonly PipeNodeInput[], target: string, resources: CompileResources): CompileResult {
  return compileUncachedImpl(nodes, target, resources);
}

/**
 * Compiles the pipe node `target` into one query. Errors: a cycle → SqlPolicyError(400)
 * "Cycle in pipe nodes: a -> b -> a"; an unknown name → SqlPolicyError(400)
 * "Resource '<x>' not found"; invalid node SQL → SqlSyntaxError (message names the node).
 * Results are cached by nodes + target + resources; cached results are frozen.
 */
export function compile(nodes: readonly PipeNodeInput[], target: string, resources: CompileResources): CompileResult {
  const key = cacheKey(nodes, target, resources);
  const hit = compileCache.get(key);
  if (hit) return hit;
  const res = compileUncachedImpl(nodes, target, resources);
  for (const k of Object.keys(res.dependencies)) Object.freeze(res.dependencies[k]);
  Object.freeze(res.dependencies);
  Object.freeze(res.order);
  Object.freeze(res.datasources);
  Object.freeze(res);
  compileCache.set(key, res);
  return res;
}

/** Empties the compile cache (tests, benchmarks). */
export function clearCompileCache(): void {
  compileCache.clear();
}
