/**
 * Runtime values of the template interpreter and how they become SQL.
 *
 * Values are plain JS data (null, boolean, number, bigint, string, arrays)
 * plus three small classes: Tuple (Python tuple), Dict (Python dict / JSON
 * object), Raw (a SQL fragment that only the engine's own helpers create, from
 * validated identifiers and escaped literals) and JsonDoc (the result of JSON()).
 * Whatever reaches the output goes through `toSql`, which only ever emits
 * escaped literals or Raw fragments.
 */
import { TemplateError } from './errors.js';

/** A Python-like tuple (rendered as `(a, b)`). */
export class Tuple {
  constructor(readonly items: Value[]) {}
}

/** A Python-like dict with string keys. */
export class Dict {
  constructor(readonly map: Map<string, Value>) {}
}

/** A SQL fragment produced by the engine itself (identifiers, sql_and, ...): output as is. */
export class Raw {
  constructor(readonly sql: string) {}
}

/** The parsed result of JSON(): rendered as a string literal holding the JSON text. */
export class JsonDoc {
  constructor(readonly value: unknown, readonly text: string) {}
}

/** A value of the template language. */
export type Value = null | boolean | number | bigint | string | Value[] | Tuple | Dict | Raw | JsonDoc;

const HEX = '0123456789abcdef';

/** ClickHouse string literal: backslash, quote and control characters escaped; unicode kept as is. */
export function quoteString(s: string): string {
  let out = "'";
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x27 && c !== 0x5c && c !== 0x7f) continue;
    if (i > last) out += s.slice(last, i);
    last = i + 1;
    switch (c) {
      case 0x27: out += "\\'"; break;
      case 0x5c: out += '\\\\'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x08: out += '\\b'; break;
      case 0x0c: out += '\\f'; break;
      case 0x00: out += '\\0'; break;
      default: out += '\\x' + HEX[c >> 4] + HEX[c & 15];
    }
  }
  if (last === 0) return "'" + s + "'";
  if (last < s.length) out += s.slice(last);
  return out + "'";
}

const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;
const I256_MAX = 2n ** 255n - 1n;

/** SQL literal of a number (finite only). */
export function numberSql(n: number): string {
  if (!Number.isFinite(n)) throw new TemplateError(`Cannot render the non-finite number ${n} in SQL`);
  return Object.is(n, -0) ? '0' : String(n);
}

/** SQL literal of a big integer: plain digits within Int64/UInt64, else toInt256/toUInt256('...'). */
export function bigintSql(n: bigint): string {
  if (n >= I64_MIN && n <= U64_MAX) return n.toString();
  return n <= I256_MAX ? `toInt256('${n}')` : `toUInt256('${n}')`;
}

/** The SQL text of a value inside an array/tuple (no leading-space protection needed). */
function innerSql(v: Value, what: string): string {
  if (v === null) return 'NULL';
  switch (typeof v) {
    case 'string': return quoteString(v);
    case 'number': return numberSql(v);
    case 'bigint': return bigintSql(v);
    case 'boolean': return v ? '1' : '0';
  }
  if (Array.isArray(v)) return '[' + v.map((x) => innerSql(x, what)).join(',') + ']';
  if (v instanceof Raw) return v.sql;
  if (v instanceof Tuple) return '(' + v.items.map((x) => innerSql(x, what)).join(',') + ')';
  if (v instanceof JsonDoc) return quoteString(v.text);
  if (v instanceof Dict) return quoteString(JSON.stringify(toPlain(v)));
  throw new TemplateError(`Cannot render ${what} in SQL`);
}

/**
 * The SQL text of a value output by `{{ ... }}`. A negative number gets a
 * leading space so that `x -{{n}}` can never become a `--` comment.
 * `null` is refused (Tinybird: "expression evaluated to null").
 */
export function toSql(v: Value, what: string): string {
  if (v === null) throw new TemplateError(`Expression "${what}" evaluated to null`);
  const s = innerSql(v, what);
  return s.charCodeAt(0) === 45 /* - */ ? ' ' + s : s;
}

/** Plain JS data of a value (for custom_error bodies and JSON). */
export function toPlain(v: Value): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Tuple) return v.items.map(toPlain);
  if (v instanceof Dict) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.map) Object.defineProperty(o, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  if (v instanceof JsonDoc) return v.value;
  return v.sql;
}

/** A value of the template language from plain JS data (JSON bodies, JSON()). */
export function fromPlain(x: unknown): Value {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case 'string': case 'number': case 'boolean': case 'bigint': return x;
  }
  if (Array.isArray(x)) return x.map(fromPlain);
  if (typeof x === 'object') {
    const m = new Map<string, Value>();
    for (const [k, y] of Object.entries(x as Record<string, unknown>)) m.set(k, fromPlain(y));
    return new Dict(m);
  }
  return null;
}

/** Python truthiness. */
export function truthy(v: Value): boolean {
  if (v === null) return false;
  switch (typeof v) {
    case 'boolean': return v;
    case 'number': return v !== 0 && !Number.isNaN(v);
    case 'bigint': return v !== 0n;
    case 'string': return v.length > 0;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Tuple) return v.items.length > 0;
  if (v instanceof Dict) return v.map.size > 0;
  if (v instanceof Raw) return v.sql.length > 0;
  return true;
}

/** A short name of a value's type, for error messages. */
export function typeName(v: Value): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Tuple) return 'tuple';
  if (v instanceof Dict) return 'dict';
  if (v instanceof Raw) return 'sql';
  if (v instanceof JsonDoc) return 'JSON';
  switch (typeof v) {
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint': return 'int';
    default: return 'str';
  }
}
