import type { Analysis } from './analysis.js';
import { SqlPolicyError } from './errors.js';

/** Who is asking: their workspace database, settings they may use, data sources they may read. */
export interface SandboxPolicy {
  /** the caller's workspace database: the only database a query may name */
  database: string;
  /** settings the query may set in SETTINGS (default DEFAULT_ALLOWED_SETTINGS); `readonly` is never allowed */
  allowedSettings?: readonly string[];
  /** names (data sources, pipes) the token may read, unqualified or qualified with `database`; '*' or absent: all */
  readableDatasources?: readonly string[] | '*';
  /** (addition) the workspace's max_execution_time in seconds: SETTINGS may only lower it */
  maxExecutionTime?: number;
  /** (addition) upper bound for SETTINGS max_threads (default 16) */
  maxThreads?: number;
}

/** Table functions a tenant may use: they only generate data. */
export const ALLOWED_TABLE_FUNCTIONS: readonly string[] = Object.freeze([
  'numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'values', 'null', 'generateRandom',
]);

/**
 * Settings a query may set by default. Each only changes how this query computes or
 * prints its result, or lowers a limit; none widens access or raises a resource limit:
 * max_threads (1..maxThreads), max_execution_time (lower than the workspace's), join and
 * NULL semantics, read-order optimisations, output formatting.
 */
export const DEFAULT_ALLOWED_SETTINGS: readonly string[] = Object.freeze([
  'max_threads',
  'max_execution_time',
  'join_use_nulls',
  'join_algorithm',
  'join_default_strictness',
  'joined_subquery_requires_alias',
  'transform_null_in',
  'aggregate_functions_null_for_empty',
  'cast_keep_nullable',
  'group_by_use_nulls',
  'prefer_column_name_to_alias',
  'optimize_read_in_order',
  'optimize_aggregation_in_order',
  'optimize_move_to_prewhere',
  'extremes',
  'totals_mode',
  'date_time_output_format',
  'output_format_json_quote_64bit_integers',
  'output_format_json_quote_decimals',
  'output_format_json_quote_denormals',
]);

/** Settings that must never come from a query, whatever the allow-list says. */
const NEVER_SETTINGS: ReadonlySet<string> = new Set(['readonly', 'allow_ddl', 'allow_introspection_functions']);
/** Databases no tenant may read (400, not a permission matter). */
const SYSTEM_DATABASES: ReadonlySet<string> = new Set(['system', 'information_schema', 'INFORMATION_SCHEMA']);
const ALLOWED_TF: ReadonlySet<string> = new Set(ALLOWED_TABLE_FUNCTIONS.map((n) => n.toLowerCase()));
const SIMPLE_VALUE = /^[A-Za-z0-9_.,:+\- ]{0,64}$/;

function checkSettingValue(name: string, value: string, policy: SandboxPolicy): void {
  if (!SIMPLE_VALUE.test(value)) throw new SqlPolicyError(`Invalid value for setting '${name}': ${JSON.stringify(value)}`, 400);
  if (name === 'max_threads') {
    const max = policy.maxThreads ?? 16;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
      throw new SqlPolicyError(`Setting 'max_threads' must be an integer from 1 to ${max}`, 400);
  } else if (name === 'max_execution_time') {
    const v = Number(value);
    const limit = policy.maxExecutionTime;
    if (!Number.isFinite(v) || v <= 0 || (limit !== undefined && v > limit))
      throw new SqlPolicyError(
        `Setting 'max_execution_time' may only lower the limit${limit !== undefined ? ` (at most ${limit})` : ''}`,
        400,
      );
  }
}

function canRead(policy: SandboxPolicy, table: string): boolean {
  const r = policy.readableDatasources;
  if (r === undefined || r === '*') return true;
  return r.includes(table);
}

/**
 * Checks an analysed query against the tenant sandbox (allow-list). Throws SqlPolicyError:
 * 400 for what no tenant may run (not one SELECT, INTO OUTFILE, table functions other than
 * numbers/zeros/values/null/generateRandom, system databases, table-by-string functions,
 * file-reading functions, SETTINGS outside the allow-list or inside a subquery, table-name
 * query parameters, `x IN alias` of a WITH expression alias), 403 for another database or a data source the token may not read.
 */
export function checkSandbox(analysis: Analysis, policy: SandboxPolicy): void {
  if (analysis.statementCount !== 1)
    throw new SqlPolicyError(`Only one statement per query is allowed (found ${analysis.statementCount})`, 400);
  if (analysis.kind !== 'select') {
    const what = analysis.kind === 'other' ? 'this statement' : analysis.kind.toUpperCase();
    throw new SqlPolicyError(`Only SELECT queries are allowed, not ${what}`, 400);
  }
  if (analysis.intoOutfile) throw new SqlPolicyError('INTO OUTFILE is not allowed', 400);
  for (const f of analysis.tableFunctions) {
    if (!ALLOWED_TF.has(f.name.toLowerCase()))
      throw new SqlPolicyError(
        `Table function '${f.name}' is not allowed (allowed: ${ALLOWED_TABLE_FUNCTIONS.join(', ')})`,
        400,
      );
  }
  for (const f of analysis.tableByStringFunctions)
    throw new SqlPolicyError(`Function '${f.name}' is not allowed: it reads a table or dictionary named in a string`, 400);
  for (const f of analysis.restrictedFunctions)
    throw new SqlPolicyError(`Function '${f.name}' is not allowed: it reads outside the query's tables`, 400);
  for (const f of analysis.inAliases)
    throw new SqlPolicyError(
      `'IN ${f.name}' names a WITH expression alias, which ClickHouse versions read differently (26: the alias value; 18.16: a table of that name): write the values, a subquery or has(${f.name}, x) instead`,
      400,
    );
  for (const p of analysis.parameters) {
    if (p.tablePosition || /^\s*Identifier\s*$/i.test(p.type))
      throw new SqlPolicyError(`Query parameter '{${p.name}:${p.type}}' cannot name a table`, 400);
  }
  for (const t of analysis.tables) {
    if (t.database !== null) {
      const full = `${t.database}.${t.table}`;
      if (SYSTEM_DATABASES.has(t.database) || t.database.toLowerCase() === 'system' || t.database.toLowerCase() === 'information_schema')
        throw new SqlPolicyError(`Access to '${full}' is not allowed: system tables are not available`, 400);
      if (t.database !== policy.database)
        throw new SqlPolicyError(`Access to '${full}' is not allowed: database '${t.database}' is not this workspace's`, 403);
    }
    if (!canRead(policy, t.table))
      throw new SqlPolicyError(`Not enough permissions to read '${t.table}'`, 403);
  }
  if (analysis.subquerySettings)
    throw new SqlPolicyError('SETTINGS are only allowed once, at the end of the top-level query (found in a subquery)', 400);
  const allowed = policy.allowedSettings ?? DEFAULT_ALLOWED_SETTINGS;
  for (const s of analysis.settings) {
    if (NEVER_SETTINGS.has(s.name.toLowerCase()) || !allowed.includes(s.name))
      throw new SqlPolicyError(`Setting '${s.name}' is not allowed`, 400);
    checkSettingValue(s.name, s.value, policy);
  }
}
