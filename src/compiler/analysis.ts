import { fromNative } from './errors.js';
import { LruCache } from './lru.js';
import { loadNative, type NativeCompiler } from './native.js';

/** Statement kinds, in the order of the addon's enum. */
export type StatementKind =
  | 'select' | 'insert' | 'create' | 'alter' | 'drop' | 'rename' | 'truncate' | 'optimize'
  | 'system' | 'set' | 'use' | 'show' | 'describe' | 'explain' | 'kill' | 'grant' | 'other';

const KINDS: readonly StatementKind[] = [
  'select', 'insert', 'create', 'alter', 'drop', 'rename', 'truncate', 'optimize', 'system', 'set',
  'use', 'show', 'describe', 'explain', 'kill', 'grant', 'other',
];

/** A table reference; start/end are UTF-16 offsets of the name as written (e.g. `db`.`t`). */
export interface TableRef { database: string | null; table: string; alias: string | null; start: number; end: number }
/** A function use; start/end cover the function name. */
export interface FunctionRef { name: string; start: number; end: number }
/** A UTF-16 range [start, end) of the input. */
export interface TextSpan { start: number; end: number }
/** A query parameter `{name:Type}`; tablePosition: used where a table is expected. */
export interface QueryParameter { name: string; type: string; start: number; end: number; tablePosition: boolean }

/** What analyze() learns about a query. Objects are shared (cached) and frozen. */
export interface Analysis {
  kind: StatementKind;
  /** >1 when several `;`-separated statements */
  statementCount: number;
  /** every table reference anywhere (FROM, JOIN, subqueries, IN <table>, scalar subqueries, WITH bodies), excluding references to WITH-defined names */
  tables: TableRef[];
  /** names defined by WITH (`name AS (subquery)`, `(subquery) AS name`, `expr AS name`) */
  withNames: string[];
  /** table functions used in FROM/JOIN (numbers, url, file, remote, s3, ...) */
  tableFunctions: FunctionRef[];
  /** functions that name a table inside a string: dictGet*, dictHas, dictGetHierarchy, dictIsIn, joinGet*, hasColumnInTable, ... */
  tableByStringFunctions: FunctionRef[];
  /** the top-level SETTINGS clause(s) (string values unquoted, others as written) */
  settings: { name: string; value: string }[];
  /** a SETTINGS clause appears below the top level (subquery or non-last UNION member) */
  subquerySettings: boolean;
  /** FORMAT clause */
  format: string | null;
  intoOutfile: boolean;
  /** (addition) scalar functions that reach outside the query: file(), catboostEvaluate(), getMacro(), filesystem*() ... */
  restrictedFunctions: FunctionRef[];
  /** (addition) query parameters {name:Type} */
  parameters: QueryParameter[];
  /** (addition) spans of the top-level SETTINGS and FORMAT clauses (keyword included) */
  settingsAndFormatSpans: TextSpan[];
  /** (addition) the first statement without leading/trailing comments and its `;` */
  body: TextSpan;
  /**
   * (addition) `x IN alias` where alias is a WITH expression alias (not a CTE): ClickHouse 26
   * reads the alias value, ClickHouse 18.16 a table of that name (checkSandbox refuses it)
   */
  inAliases: FunctionRef[];
  /** (addition) spans of every comment (`--`, `//`, `#`, block comments, which nest) */
  commentSpans: TextSpan[];
}

let nativeModule: NativeCompiler | null = null;
let buffer = new Int32Array(1 << 14);

/** The loaded addon (loaded on first use). */
export function native(): NativeCompiler {
  if (!nativeModule) {
    nativeModule = loadNative();
    nativeModule.setBuffer(buffer);
  }
  return nativeModule;
}

/** The Int32Array shared with the addon (results of analyze / compileKey). */
export function sharedBuffer(): Int32Array {
  native();
  return buffer;
}

/** Replaces the shared buffer with one of at least `size` ints. */
export function growSharedBuffer(size: number): Int32Array {
  buffer = new Int32Array(Math.max(size, buffer.length * 2));
  native().setBuffer(buffer);
  return buffer;
}

function functionRefs(b: Int32Array, s: string[], k: number, n: number): FunctionRef[] {
  const out: FunctionRef[] = [];
  for (let i = 0; i < n; i++, k += 3) out.push(Object.freeze({ name: s[b[k]!]!, start: b[k + 1]!, end: b[k + 2]! }));
  return out;
}

function decode(strings: string[]): Analysis {
  const b = buffer;
  const nTables = b[4]!, nWith = b[5]!, nTf = b[6]!, nTbs = b[7]!, nRes = b[8]!;
  const nSettings = b[9]!, nStrip = b[10]!, nParams = b[11]!;
  const nInAliases = b[14]!, nComments = b[15]!;
  let k = 16;
  const tables: TableRef[] = [];
  for (let i = 0; i < nTables; i++, k += 6) {
    const db = b[k]!, alias = b[k + 2]!;
    tables.push(Object.freeze({
      database: db < 0 ? null : strings[db]!,
      table: strings[b[k + 1]!]!,
      alias: alias < 0 ? null : strings[alias]!,
      start: b[k + 3]!,
      end: b[k + 4]!,
    }));
  }
  const withNames: string[] = [];
  for (let i = 0; i < nWith; i++) withNames.push(strings[b[k++]!]!);
  const tableFunctions = functionRefs(b, strings, k, nTf);
  k += nTf * 3;
  const tableByStringFunctions = functionRefs(b, strings, k, nTbs);
  k += nTbs * 3;
  const restrictedFunctions = functionRefs(b, strings, k, nRes);
  k += nRes * 3;
  const settings: { name: string; value: string }[] = [];
  for (let i = 0; i < nSettings; i++, k += 2) settings.push(Object.freeze({ name: strings[b[k]!]!, value: strings[b[k + 1]!]! }));
  const settingsAndFormatSpans: TextSpan[] = [];
  for (let i = 0; i < nStrip; i++, k += 2) settingsAndFormatSpans.push(Object.freeze({ start: b[k]!, end: b[k + 1]! }));
  const parameters: QueryParameter[] = [];
  for (let i = 0; i < nParams; i++, k += 5) {
    parameters.push(Object.freeze({ name: strings[b[k]!]!, type: strings[b[k + 1]!]!, start: b[k + 2]!, end: b[k + 3]!, tablePosition: b[k + 4] === 1 }));
  }
  const inAliases = functionRefs(b, strings, k, nInAliases);
  k += nInAliases * 3;
  const commentSpans: TextSpan[] = [];
  for (let i = 0; i < nComments; i++, k += 2) commentSpans.push(Object.freeze({ start: b[k]!, end: b[k + 1]! }));
  const flags = b[2]!;
  return Object.freeze({
    kind: KINDS[b[0]!] ?? 'other',
    statementCount: b[1]!,
    tables: Object.freeze(tables) as TableRef[],
    withNames: Object.freeze(withNames) as string[],
    tableFunctions: Object.freeze(tableFunctions) as FunctionRef[],
    tableByStringFunctions: Object.freeze(tableByStringFunctions) as FunctionRef[],
    settings: Object.freeze(settings) as { name: string; value: string }[],
    subquerySettings: (flags & 1) !== 0,
    format: b[3]! < 0 ? null : strings[b[3]!]!,
    intoOutfile: (flags & 2) !== 0,
    restrictedFunctions: Object.freeze(restrictedFunctions) as FunctionRef[],
    parameters: Object.freeze(parameters) as QueryParameter[],
    settingsAndFormatSpans: Object.freeze(settingsAndFormatSpans) as TextSpan[],
    body: Object.freeze({ start: b[12]!, end: b[13]! }),
    inAliases: Object.freeze(inAliases) as FunctionRef[],
    commentSpans: Object.freeze(commentSpans) as TextSpan[],
  });
}

/** Parses and analyses `sql` without the cache (throws SqlSyntaxError). */
export function analyzeUncached(sql: string): Analysis {
  const n = native();
  let res: string[] | number;
  try {
    res = n.analyze(sql);
    if (typeof res === 'number') {
      growSharedBuffer(res);
      res = n.analyze(sql);
    }
  } catch (err) {
    throw fromNative(err);
  }
  if (typeof res === 'number') throw new Error('colibri: analysis buffer too small');
  return decode(res);
}

const ANALYSIS_CACHE_ENTRIES = 2000;
const MAX_CACHED_SQL_LENGTH = 256 * 1024;
const analysisCache = new LruCache<string, Analysis>(ANALYSIS_CACHE_ENTRIES);

/**
 * Analyses `sql`: statement kind, tables, WITH names, table functions, table-by-string
 * functions, settings, format. Results are cached (LRU keyed by the SQL text) and frozen.
 * Throws SqlSyntaxError with line and column.
 */
export function analyze(sql: string): Analysis {
  const hit = analysisCache.get(sql);
  if (hit) return hit;
  const a = analyzeUncached(sql);
  if (sql.length <= MAX_CACHED_SQL_LENGTH) analysisCache.set(sql, a);
  return a;
}

/** Empties the analysis cache (tests, benchmarks). */
export function clearAnalysisCache(): void {
  analysisCache.clear();
}

/**
 * The first statement of `sql` without its top-level SETTINGS and FORMAT clauses, its
 * surrounding comments and its `;`, every other comment replaced by one space (ClickHouse
 * 18.16 and 26 disagree on nested block comments); everything else as written.
 */
export function stripSettingsAndFormat(sql: string): string {
  const a = analyze(sql);
  let out = '';
  let pos = a.body.start;
  const spans: { start: number; end: number; text: string }[] = [];
  for (const s of a.settingsAndFormatSpans) spans.push({ start: s.start, end: s.end, text: '' });
  for (const c of a.commentSpans) if (c.start >= a.body.start && c.end <= a.body.end) spans.push({ start: c.start, end: c.end, text: ' ' });
  spans.sort((x, y) => x.start - y.start);
  for (const s of spans) {
    if (s.start < pos) continue; // a comment inside a removed clause
    out += sql.slice(pos, s.start) + s.text;
    pos = s.end;
  }
  out += sql.slice(pos, a.body.end);
  return out.trimEnd();
}

/**
 * `sql` (any text that tokenizes: a statement, an expression) with every comment replaced by
 * one space, so that every ClickHouse version reads the same tokens. Throws SqlSyntaxError.
 */
export function stripComments(sql: string): string {
  try {
    return native().stripComments(sql);
  } catch (err) {
    throw fromNative(err);
  }
}
