/**
 * TabSeparated output of the ingest encoders: much cheaper for ClickHouse to parse
 * than JSONEachRow (positional, no keys, no quotes), with the same stored values.
 *
 * A column's value is first validated by its codec exactly as for JSONEachRow; its
 * TSV text is then either produced directly (strings: the hot path) or converted
 * from the codec's JSON text by a converter built per type here:
 * - a JSON string `"..."` becomes its content, TSV-escaped (`\t \n \r \0 \b \f \\`);
 * - `null` becomes `\N`;
 * - unquoted DateTime Unix timestamps are zero-padded to 10 digits (ClickHouse's text
 *   DateTime parser, 18.16 and 26.x alike, reads 5 to 10 digits as a timestamp, and
 *   shorter ones as a broken-down date: `0000000005` is 5 seconds, `5` is not);
 * - arrays of scalars become ClickHouse literals `[1,'a\'b',NULL]`;
 * - anything else (numbers, true/false) is written as is.
 * Map, Tuple and nested arrays have no converter: a data source with such a column
 * stays on JSONEachRow.
 */
import type { TypeNode } from '../catalog/types.js';
import { innerTypes } from '../catalog/types.js';
import { JsonNumber, parseJsonLossless } from './json.js';

/** Turns a codec's JSON text into TSV field text. */
export type TsvConverter = (json: string) => string;

/** The TSV text of NULL. */
export const TSV_NULL = '\\N';

const NEEDS_TSV_ESCAPE = /[\x00\x08\x09\x0a\x0c\x0d\x5c]/;
const TSV_ESCAPE_ALL = /[\x00\x08\x09\x0a\x0c\x0d\x5c]/g;
const QUOTED_ESCAPE_ALL = /[\x00\x08\x09\x0a\x0c\x0d\x27\x5c]/g;
const ESCAPES: Record<string, string> = {
  '\x00': '\\0', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r', '\\': '\\\\', "'": "\\'",
};
const escapeChar = (c: string): string => ESCAPES[c] as string;

/** A string as a TSV field (ClickHouse's escaped form). */
export function tsvEscape(s: string): string {
  return NEEDS_TSV_ESCAPE.test(s) ? s.replace(TSV_ESCAPE_ALL, escapeChar) : s;
}

/** A string as a single-quoted ClickHouse literal (inside arrays). */
function quoteLiteral(s: string): string {
  return `'${s.replace(QUOTED_ESCAPE_ALL, escapeChar)}'`;
}

/** The TSV text of a JSON string literal produced by JSON.stringify. */
export function jsonStringToTsv(json: string): string {
  const inner = json.slice(1, -1);
  // JSON.stringify writes every control character, quote and backslash as an escape:
  // without a backslash the content is the string itself, and needs no TSV escape.
  return inner.indexOf('\\') < 0 ? inner : tsvEscape(JSON.parse(json) as string);
}

const scalar: TsvConverter = (j) => (j.charCodeAt(0) === 34 ? jsonStringToTsv(j) : j);
const dateTime: TsvConverter = (j) => (j.charCodeAt(0) === 34 ? jsonStringToTsv(j) : j.padStart(10, '0'));

function unwrap(node: TypeNode): TypeNode {
  let n = node;
  while (n.name === 'Nullable' || n.name === 'LowCardinality') n = innerTypes(n)[0] as TypeNode;
  return n;
}

/** One array element (from the lossless parse of the codec's JSON text) as a literal. */
function elementLiteral(e: unknown): string {
  if (e === null || e === undefined) return 'NULL';
  if (typeof e === 'string') return quoteLiteral(e);
  if (e instanceof JsonNumber) return e.text;
  if (typeof e === 'boolean') return e ? 'true' : 'false';
  throw new Error('unexpected array element in TSV conversion');
}

const arrayOfScalars: TsvConverter = (j) => {
  const a = parseJsonLossless(j) as unknown[];
  let out = '[';
  for (let i = 0; i < a.length; i++) out += (i === 0 ? '' : ',') + elementLiteral(a[i]);
  return `${out}]`;
};

/** The converter of a (validated) type, or null when that type has no TSV path yet. */
export function tsvConverter(node: TypeNode): TsvConverter | null {
  switch (node.name) {
    case 'LowCardinality':
      return tsvConverter(innerTypes(node)[0] as TypeNode);
    case 'Nullable': {
      const inner = tsvConverter(innerTypes(node)[0] as TypeNode);
      return inner === null ? null : (j) => (j === 'null' ? TSV_NULL : inner(j));
    }
    case 'Array': {
      const el = unwrap(innerTypes(node)[0] as TypeNode);
      return el.name === 'Array' || el.name === 'Map' || el.name === 'Tuple' ? null : arrayOfScalars;
    }
    case 'Map':
    case 'Tuple':
      return null;
    case 'DateTime':
      return dateTime;
    default:
      return scalar;
  }
}
