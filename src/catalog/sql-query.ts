/**
 * Ad-hoc SQL for the Query API: parse with the native compiler, apply the sandbox
 * (SELECT only, the workspace's own data sources, allowed table functions and
 * settings), qualify every data source to the workspace database, apply the
 * token's row filters, and move SETTINGS and FORMAT out of the SQL text so the host
 * receives them outside of it.
 */
import { analyze, checkSandbox, rewrite, stripSettingsAndFormat, SqlPolicyError, SqlSyntaxError, type RewriteTarget } from '../compiler/index.js';
import type { AuthContext } from '../auth/context.js';
import type { StateStore } from '../state/store.js';
import { badRequest, forbidden, HttpError } from '../server/errors.js';
import { QUARANTINE_SUFFIX, listDataSources } from './datasources.js';
import { quoteQualified } from '../clickhouse/sql.js';

export interface CompiledQuery {
  /** SQL for the tenant's host: no SETTINGS, no FORMAT, every table qualified. */
  sql: string;
  /** The output format ClickHouse should use (a ClickHouse format name). */
  format: OutputFormat;
  /** Settings the query asked for (already checked against the allow-list). */
  settings: Record<string, string>;
  /** Data sources the query reads. */
  datasources: string[];
}

export type OutputFormat = 'JSON' | 'JSONEachRow' | 'CSV' | 'CSVWithNames' | 'TSV' | 'TSVWithNames' | 'JSONCompact';

const FORMATS: Readonly<Record<string, OutputFormat>> = {
  json: 'JSON',
  jsoneachrow: 'JSONEachRow',
  ndjson: 'JSONEachRow',
  jsonlines: 'JSONEachRow',
  csv: 'CSV',
  csvwithnames: 'CSVWithNames',
  tsv: 'TSV',
  tabseparated: 'TSV',
  tsvwithnames: 'TSVWithNames',
  tabseparatedwithnames: 'TSVWithNames',
  jsoncompact: 'JSONCompact',
};

export const MAX_SQL_LENGTH = 256 * 1024;

/** The output format for a FORMAT name; 400 when it is not one we serve. */
export function outputFormat(name: string): OutputFormat {
  const f = FORMATS[name.toLowerCase()];
  if (f === undefined) throw badRequest(`Format '${name.slice(0, 40)}' is not supported: use JSON, JSONEachRow (ndjson), CSV, CSVWithNames, TSV, TSVWithNames or JSONCompact`);
  return f;
}

/**
 * Turn tenant SQL into a query for the tenant's host, or throw a 4xx naming the problem.
 * `virtual` adds names the query may read that are not data sources, each standing for
 * a subquery (an endpoint's result named `_` for `q=`).
 */
export function compileSqlQuery(
  store: StateStore,
  ctx: AuthContext,
  sql: string,
  maxExecutionTime: number,
  virtual: Readonly<Record<string, string>> = {},
): CompiledQuery {
  if (sql.length > MAX_SQL_LENGTH) throw badRequest(`Query too long: the limit is ${MAX_SQL_LENGTH} characters`);
  if (sql.trim() === '') throw badRequest("Missing query: pass it as 'q' or in the request body");
  const analysis = wrap(() => analyze(sql));
  const datasources = listDataSources(store, ctx.workspace.id);
  const readable = new Map<string, string | undefined>(); // visible name -> row filter
  for (const ds of datasources) {
    const filter = readFilter(ctx, ds.name);
    if (filter === false) continue;
    readable.set(ds.name, filter);
    // A row filter can't be applied to the quarantine table (its columns are raw
    // strings): only a token that reads every row of the data source reads it.
    if (filter === undefined) readable.set(ds.name + QUARANTINE_SUFFIX, undefined);
  }
  const virtualNames = Object.keys(virtual);
  wrap(() =>
    checkSandbox(analysis, {
      database: ctx.workspace.database,
      readableDatasources: ctx.isAdmin ? '*' : [...readable.keys(), ...virtualNames],
      maxExecutionTime,
    }),
  );
  const format = analysis.format === null ? 'JSON' : outputFormat(analysis.format);
  const settings: Record<string, string> = {};
  for (const s of analysis.settings) settings[s.name] = s.value;

  const bare = wrap(() => stripSettingsAndFormat(sql));
  const refs = wrap(() => analyze(bare)).tables;
  const known = new Set<string>();
  for (const ds of datasources) {
    known.add(ds.name);
    known.add(ds.name + QUARANTINE_SUFFIX);
  }
  const mapping: Record<string, RewriteTarget> = {};
  const used = new Set<string>();
  for (const ref of refs) {
    const sub = ref.database === null ? virtual[ref.table] : undefined;
    if (sub !== undefined) {
      mapping[ref.table] = { subquery: sub, alias: ref.alias ?? ref.table };
      continue;
    }
    if (!known.has(ref.table)) throw badRequest(`Resource '${ref.table}' not found`);
    if (!ctx.isAdmin && !readable.has(ref.table)) throw forbidden(`Not enough permissions to read '${ref.table}'`);
    used.add(ref.table);
    const key = ref.database === null ? ref.table : `${ref.database}.${ref.table}`;
    const filter = ctx.isAdmin ? undefined : readable.get(ref.table);
    mapping[key] =
      filter === undefined
        ? { database: ctx.workspace.database, table: ref.table }
        : { subquery: `SELECT * FROM ${quoteQualified(ctx.workspace.database, ref.table)} WHERE ${filter}`, alias: ref.alias ?? ref.table };
  }
  const rewritten = Object.keys(mapping).length === 0 ? bare : wrap(() => rewrite(bare, mapping));
  return { sql: rewritten, format, settings, datasources: [...used] };
}

/** The token's row filters per data source (for reads through pipes). */
export function rowFilters(store: StateStore, ctx: AuthContext): Record<string, string> {
  const filters: Record<string, string> = {};
  if (ctx.isAdmin) return filters;
  for (const ds of listDataSources(store, ctx.workspace.id)) {
    const f = readFilter(ctx, ds.name);
    if (typeof f === 'string') {
      filters[ds.name] = f;
      // The quarantine table can't be filtered by row: a filtered token reads none of it.
      filters[ds.name + QUARANTINE_SUFFIX] = '0';
    }
  }
  return filters;
}

/**
 * Whether the token may read a data source, and with which row filter:
 * false = no; undefined = every row; a string = only rows matching it (several
 * READ scopes on the same data source are OR-ed).
 */
function readFilter(ctx: AuthContext, name: string): string | undefined | false {
  if (ctx.isAdmin) return undefined;
  const scopes = ctx.scopes.filter((s) => s.type === 'DATASOURCES:READ' && s.resource === name);
  if (scopes.length === 0) return false;
  if (scopes.some((s) => s.filter === undefined)) return undefined;
  return scopes.map((s) => `(${s.filter}\n)`).join(' OR ');
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw badRequest(err.message);
    if (err instanceof SqlPolicyError) throw new HttpError(err.status, err.message);
    throw err;
  }
}
