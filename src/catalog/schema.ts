/**
 * Data source schemas in Tinybird syntax (`` `name` Type [DEFAULT expr] [`json:$.path`] ``,
 * comma separated), engine options, and the DDL of a data source table and of its
 * `_quarantine` companion. The DDL runs on ClickHouse 26.x and on 18.16 (as far as
 * the column types exist there).
 */
import { compileJsonPath, JsonPathError } from '../ingest/jsonpath.js';
import { formatType, parseType, TypeSyntaxError } from './types.js';

/** One column of a data source. */
export interface ColumnDef {
  name: string;
  /** Canonical ClickHouse type text, e.g. `Array(Nullable(String))`. */
  type: string;
  /** Tinybird JSONPath (`$.a.b`) used for NDJSON ingestion, or null. */
  jsonpath: string | null;
  /** The DEFAULT expression (SQL text), or null. */
  defaultExpr: string | null;
}

/** A schema that cannot be accepted; the message names the column and the problem. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

/** Engine clause pieces of a data source table. */
export interface EngineOptions {
  /** Full engine clause, e.g. `MergeTree()` or `ReplacingMergeTree(ver)`. */
  engine: string;
  sortingKey: string | null;
  partitionKey: string | null;
  ttl: string | null;
  settings: string | null;
  /** On a cluster: the sharding key of the Distributed table (`engine_sharding_key`); absent: `rand()`. */
  shardingKey?: string | null;
}

/** Maximum schema text size in bytes (characters). */
export const MAX_SCHEMA_LENGTH = 64 * 1024;
/** Maximum number of columns of a data source. */
export const MAX_COLUMNS = 1000;
const MAX_NAME_LENGTH = 255;
const MAX_EXPR_LENGTH = 4096;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names a column may not take: they are the quarantine table's own columns. */
const RESERVED_NAMES = new Set(['insertion_date']);

/** Splits text at top-level commas, outside parentheses and quotes. */
function splitTopLevel(text: string, what: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') {
      depth--;
      if (depth < 0) throw new SchemaError(`Invalid ${what}: unbalanced ')' at position ${i}`);
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote !== '') throw new SchemaError(`Invalid ${what}: unterminated quote ${quote}`);
  if (depth !== 0) throw new SchemaError(`Invalid ${what}: unbalanced parentheses`);
  parts.push(text.slice(start));
  return parts;
}

/**
 * Checks a customer SQL fragment conservatively: length, no control characters,
 * balanced parentheses and quotes, and outside quotes no `;`, comments, braces
 * (query parameters) or SELECT. A later compiler pass parses it properly.
 * Throws SchemaError with `what` in the message.
 */
export function validateSqlFragment(text: string, what: string, maxLength = MAX_EXPR_LENGTH): void {
  if (text.length === 0) throw new SchemaError(`${what} is empty`);
  if (text.length > maxLength) throw new SchemaError(`${what} is longer than ${maxLength} characters`);
  let depth = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const code = text.charCodeAt(i);
    if (code < 32 && c !== '\n' && c !== '\t' && c !== '\r') throw new SchemaError(`${what} contains a control character`);
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
    } else if (c === '(' || c === '[') {
      depth++;
    } else if (c === ')' || c === ']') {
      depth--;
      if (depth < 0) throw new SchemaError(`${what} has unbalanced parentheses`);
    } else if (c === ';') {
      throw new SchemaError(`${what} must not contain ';'`);
    } else if (c === '#' || c === '{' || c === '}' || (c === '-' && text[i + 1] === '-') || (c === '/' && text[i + 1] === '*') || (c === '*' && text[i + 1] === '/')) {
      throw new SchemaError(`${what} must not contain comments or braces`);
    } else if ((c === 's' || c === 'S') && /^select\b/i.test(text.slice(i, i + 7)) && (i === 0 || !/[A-Za-z0-9_]/.test(text[i - 1] as string))) {
      throw new SchemaError(`${what} must not contain a subquery`);
    }
  }
  if (quote !== '') throw new SchemaError(`${what} has an unterminated quote`);
  if (depth !== 0) throw new SchemaError(`${what} has unbalanced parentheses`);
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  return i;
}

/** Index just after the parenthesised group starting at `i` (s[i] === '('). */
function endOfGroup(s: string, i: number): number {
  let depth = 0;
  let quote = '';
  for (let j = i; j < s.length; j++) {
    const c = s[j] as string;
    if (quote !== '') {
      if (c === '\\') j++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

/** Index of the next top-level "`json:" at or after `i`, or s.length. */
function endOfDefault(s: string, i: number): number {
  let depth = 0;
  let quote = '';
  for (let j = i; j < s.length; j++) {
    const c = s[j] as string;
    if (quote !== '') {
      if (c === '\\') j++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '`' && depth === 0 && s.startsWith('`json:', j)) return j;
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  return s.length;
}

function validateName(name: string, label: string): void {
  if (name.length === 0) throw new SchemaError(`Invalid schema: ${label}: empty column name`);
  if (name.length > MAX_NAME_LENGTH) throw new SchemaError(`Invalid schema: column '${name.slice(0, 40)}...': name is too long`);
  if (!IDENTIFIER.test(name)) {
    throw new SchemaError(`Invalid schema: column '${name}': name must start with a letter or '_' and contain only letters, digits and '_'`);
  }
  if (name.startsWith('c__') || RESERVED_NAMES.has(name)) {
    throw new SchemaError(`Invalid schema: column '${name}': name is reserved for the quarantine table`);
  }
}

function parseColumn(text: string, index: number): ColumnDef {
  const label = `column ${index + 1}`;
  let i = skipSpace(text, 0);
  let name: string;
  if (text[i] === '`') {
    const end = text.indexOf('`', i + 1);
    if (end < 0) throw new SchemaError(`Invalid schema: ${label}: unterminated backtick in name`);
    name = text.slice(i + 1, end);
    i = end + 1;
  } else {
    const start = i;
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i] as string)) i++;
    name = text.slice(start, i);
    if (name.length === 0) throw new SchemaError(`Invalid schema: ${label}: expected a column name`);
  }
  validateName(name, label);
  const col = `column '${name}'`;
  i = skipSpace(text, i);
  const typeStart = i;
  while (i < text.length && /[A-Za-z0-9_]/.test(text[i] as string)) i++;
  if (i === typeStart) throw new SchemaError(`Invalid schema: ${col}: missing type`);
  const j = skipSpace(text, i);
  if (text[j] === '(') {
    const end = endOfGroup(text, j);
    if (end < 0) throw new SchemaError(`Invalid schema: ${col}: unbalanced parentheses in type`);
    i = end;
  }
  const typeText = text.slice(typeStart, i);
  let type: string;
  try {
    type = formatType(parseType(typeText));
  } catch (err) {
    if (err instanceof TypeSyntaxError) throw new SchemaError(`Invalid schema: ${col}: ${err.message}`);
    throw err;
  }
  let jsonpath: string | null = null;
  let defaultExpr: string | null = null;
  for (;;) {
    i = skipSpace(text, i);
    if (i >= text.length) break;
    if (text.startsWith('`json:', i)) {
      if (jsonpath !== null) throw new SchemaError(`Invalid schema: ${col}: more than one JSONPath`);
      const end = text.indexOf('`', i + 1);
      if (end < 0) throw new SchemaError(`Invalid schema: ${col}: unterminated JSONPath`);
      jsonpath = text.slice(i + 6, end).trim();
      try {
        compileJsonPath(jsonpath);
      } catch (err) {
        if (err instanceof JsonPathError) throw new SchemaError(`Invalid schema: ${col}: ${err.message}`);
        throw err;
      }
      i = end + 1;
    } else if (/^DEFAULT\s/i.test(text.slice(i, i + 8))) {
      if (defaultExpr !== null) throw new SchemaError(`Invalid schema: ${col}: more than one DEFAULT`);
      const end = endOfDefault(text, i + 7);
      defaultExpr = text.slice(i + 7, end).trim();
      validateSqlFragment(defaultExpr, `Invalid schema: ${col}: DEFAULT expression`);
      i = end;
    } else {
      const word = text.slice(i, i + 20).split(/\s/)[0] ?? '';
      throw new SchemaError(`Invalid schema: ${col}: unexpected '${word}' after the type (expected DEFAULT or \`json:$.path\`)`);
    }
  }
  return { name, type, jsonpath, defaultExpr };
}

/** Parses a Tinybird schema string into columns; throws SchemaError naming the column. */
export function parseSchema(schema: string): ColumnDef[] {
  if (schema.length > MAX_SCHEMA_LENGTH) throw new SchemaError(`Invalid schema: longer than ${MAX_SCHEMA_LENGTH} characters`);
  const parts = splitTopLevel(schema, 'schema');
  if (parts.length > MAX_COLUMNS) throw new SchemaError(`Invalid schema: more than ${MAX_COLUMNS} columns`);
  const columns: ColumnDef[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k] as string;
    if (part.trim() === '') {
      if (k === parts.length - 1 && k > 0) continue; // trailing comma
      throw new SchemaError(`Invalid schema: column ${k + 1} is empty`);
    }
    const col = parseColumn(part, k);
    if (seen.has(col.name)) throw new SchemaError(`Invalid schema: column '${col.name}': duplicated column name`);
    seen.add(col.name);
    columns.push(col);
  }
  if (columns.length === 0) throw new SchemaError('Invalid schema: no columns');
  return columns;
}

/** Quotes an identifier with backticks. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``;
}

/** Tinybird's schema string form: `` `a` Int32 `json:$.a` DEFAULT 0, `b` String ``. */
export function formatSchema(columns: readonly ColumnDef[]): string {
  return columns
    .map((c) => {
      let s = `${quoteIdent(c.name)} ${c.type}`;
      if (c.jsonpath !== null) s += ` \`json:${c.jsonpath}\``;
      if (c.defaultExpr !== null) s += ` DEFAULT ${c.defaultExpr}`;
      return s;
    })
    .join(', ');
}

const ENGINE_ARGS: ReadonlyMap<string, { min: number; max: number }> = new Map([
  ['MergeTree', { min: 0, max: 0 }],
  ['ReplacingMergeTree', { min: 0, max: 2 }],
  ['SummingMergeTree', { min: 0, max: 1 }],
  ['AggregatingMergeTree', { min: 0, max: 0 }],
  ['CollapsingMergeTree', { min: 1, max: 1 }],
  ['VersionedCollapsingMergeTree', { min: 2, max: 2 }],
]);

/** MergeTree settings a customer may set. Anything touching disks or storage policies is refused. */
const ALLOWED_SETTINGS = new Set([
  'index_granularity',
  'index_granularity_bytes',
  'min_bytes_for_wide_part',
  'min_rows_for_wide_part',
  'merge_with_ttl_timeout',
  'ttl_only_drop_parts',
  'allow_nullable_key',
  'enable_mixed_granularity_parts',
  'min_index_granularity_bytes',
  'deduplicate_merge_projection_mode',
]);

function validateSettings(text: string): string {
  validateSqlFragment(text, 'engine_settings', 1024);
  const out: string[] = [];
  for (const part of splitTopLevel(text, 'engine_settings')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9]{1,20}|'[A-Za-z0-9_ .-]{0,64}')\s*$/.exec(part);
    if (m === null) throw new SchemaError(`Invalid engine_settings: '${part.trim().slice(0, 80)}' is not of the form name = value`);
    const name = m[1] as string;
    if (!ALLOWED_SETTINGS.has(name)) throw new SchemaError(`Invalid engine_settings: setting '${name}' is not allowed`);
    out.push(`${name} = ${m[2] as string}`);
  }
  return out.join(', ');
}

function optionalFragment(value: string | undefined, what: string): string | null {
  if (value === undefined) return null;
  const t = value.trim();
  if (t === '') return null;
  validateSqlFragment(t, `Invalid ${what}`);
  return t;
}

/**
 * Reads the Tinybird engine parameters (`engine`, `engine_sorting_key`,
 * `engine_partition_key`, `engine_ttl`, `engine_settings`, and the engine argument
 * shortcuts `engine_ver`, `engine_is_deleted`, `engine_sign`, `engine_version`,
 * `engine_summing_columns`). Throws SchemaError on anything invalid.
 */
export function parseEngineOptions(params: {
  engine?: string;
  engine_sorting_key?: string;
  engine_partition_key?: string;
  engine_ttl?: string;
  engine_settings?: string;
  engine_ver?: string;
  engine_is_deleted?: string;
  engine_sign?: string;
  engine_version?: string;
  engine_summing_columns?: string;
  engine_sharding_key?: string;
}): EngineOptions {
  const raw = (params.engine ?? '').trim() || 'MergeTree';
  if (raw.length > MAX_EXPR_LENGTH) throw new SchemaError('Invalid engine: too long');
  const m = /^([A-Za-z]{1,40})\s*(?:\(([\s\S]*)\))?$/.exec(raw);
  if (m === null) throw new SchemaError(`Invalid engine: '${raw.slice(0, 80)}'`);
  const name = m[1] as string;
  const spec = ENGINE_ARGS.get(name);
  if (spec === undefined) {
    throw new SchemaError(`Invalid engine: '${name}' is not supported (use one of ${[...ENGINE_ARGS.keys()].join(', ')})`);
  }
  let args: string[] = [];
  const argText = (m[2] ?? '').trim();
  if (argText !== '') {
    validateSqlFragment(argText, `Invalid engine ${name} arguments`);
    args = splitTopLevel(argText, `engine ${name} arguments`).map((a) => a.trim());
  } else {
    const extra: Array<string | undefined> =
      name === 'ReplacingMergeTree' ? [params.engine_ver, params.engine_ver ? params.engine_is_deleted : undefined]
      : name === 'CollapsingMergeTree' ? [params.engine_sign]
      : name === 'VersionedCollapsingMergeTree' ? [params.engine_sign, params.engine_version]
      : name === 'SummingMergeTree' ? [params.engine_summing_columns ? `(${params.engine_summing_columns})` : undefined]
      : [];
    for (const e of extra) {
      if (e === undefined || e.trim() === '') break;
      validateSqlFragment(e.trim(), `Invalid engine ${name} argument`);
      args.push(e.trim());
    }
  }
  if (args.some((a) => a === '')) throw new SchemaError(`Invalid engine ${name}: empty argument`);
  if (args.length < spec.min || args.length > spec.max) {
    throw new SchemaError(`Invalid engine ${name}: takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max}`} arguments, got ${args.length}`);
  }
  return {
    engine: `${name}(${args.join(', ')})`,
    sortingKey: optionalFragment(params.engine_sorting_key, 'engine_sorting_key'),
    partitionKey: optionalFragment(params.engine_partition_key, 'engine_partition_key'),
    ttl: optionalFragment(params.engine_ttl, 'engine_ttl'),
    settings: params.engine_settings === undefined || params.engine_settings.trim() === '' ? null : validateSettings(params.engine_settings),
    ...(params.engine_sharding_key !== undefined && params.engine_sharding_key.trim() !== '' ? { shardingKey: optionalFragment(params.engine_sharding_key, 'engine_sharding_key') } : {}),
  };
}

function checkTableName(database: string, table: string): void {
  if (!IDENTIFIER.test(database) || database.length > MAX_NAME_LENGTH) throw new SchemaError(`Invalid database name '${database.slice(0, 80)}'`);
  if (!IDENTIFIER.test(table) || table.length > MAX_NAME_LENGTH) throw new SchemaError(`Invalid table name '${table.slice(0, 80)}'`);
}

/**
 * `CREATE TABLE` for a data source. Without a sorting key the table is ordered by
 * `tuple()`, which ClickHouse 18.16 and 26.x both accept.
 */
export function createTableSql(database: string, table: string, columns: readonly ColumnDef[], engine: EngineOptions): string {
  checkTableName(database, table);
  if (columns.length === 0) throw new SchemaError('Invalid schema: no columns');
  const lines = columns.map((c) => {
    validateName(c.name, 'column');
    const type = formatType(parseType(c.type));
    if (c.defaultExpr !== null) validateSqlFragment(c.defaultExpr, `Invalid schema: column '${c.name}': DEFAULT expression`);
    return `    ${quoteIdent(c.name)} ${type}${c.defaultExpr === null ? '' : ` DEFAULT ${c.defaultExpr}`}`;
  });
  let sql = `CREATE TABLE ${quoteIdent(database)}.${quoteIdent(table)}\n(\n${lines.join(',\n')}\n)\nENGINE = ${engine.engine}`;
  if (engine.partitionKey !== null) sql += `\nPARTITION BY ${engine.partitionKey}`;
  const key = engine.sortingKey;
  sql += `\nORDER BY ${key === null || /^tuple\(\s*\)$/i.test(key) ? 'tuple()' : `(${key})`}`;
  if (engine.ttl !== null) sql += `\nTTL ${engine.ttl}`;
  if (engine.settings !== null) sql += `\nSETTINGS ${engine.settings}`;
  return sql;
}

/** The fixed columns of every quarantine table, before the data source's own columns. */
export const QUARANTINE_LEADING_COLUMNS: readonly string[] = ['c__error_column', 'c__error', 'c__import_id'];

/**
 * `CREATE TABLE` for the `_quarantine` companion: `c__error_column Array(String)`,
 * `c__error Array(String)`, `c__import_id Nullable(String)`, every original column as
 * `Nullable(String)`, then `insertion_date DateTime`; MergeTree ordered by insertion_date.
 */
export function createQuarantineTableSql(database: string, table: string, columns: readonly ColumnDef[]): string {
  checkTableName(database, table);
  const lines = [
    `    ${quoteIdent('c__error_column')} Array(String)`,
    `    ${quoteIdent('c__error')} Array(String)`,
    `    ${quoteIdent('c__import_id')} Nullable(String)`,
  ];
  for (const c of columns) {
    validateName(c.name, 'column');
    lines.push(`    ${quoteIdent(c.name)} Nullable(String)`);
  }
  lines.push(`    ${quoteIdent('insertion_date')} DateTime`);
  return `CREATE TABLE ${quoteIdent(database)}.${quoteIdent(table)}\n(\n${lines.join(',\n')}\n)\nENGINE = MergeTree()\nPARTITION BY toYYYYMM(insertion_date)\nORDER BY insertion_date`;
}
