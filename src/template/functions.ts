/**
 * Functions callable from templates: the typed parameter functions (String,
 * Int32, Array, JSON, ...) and Tinybird's helpers (defined, column, columns,
 * symbol, sql_and, split_to_array, day_diff, date_diff_in_*, error,
 * custom_error, ...), plus a few safe Python builtins (len, int, str, ...).
 */
import type { Expr } from './ast.js';
import { TemplateError } from './errors.js';
import {
  convertJson, convertScalar, isElementType, MAX_ARRAY_ELEMENTS, MAX_VALUE_LENGTH, parseWithFormat, partsToMs, SCALAR_TYPES,
} from './types.js';
import { Dict, fromPlain, JsonDoc, quoteString, Raw, toPlain, truthy, Tuple, typeName, type Value } from './values.js';

/** A call expression. */
export type CallExpr = Extract<Expr, { k: 'call' }>;

/** What functions need from the interpreter. */
export interface Ctx {
  /** Evaluates an expression. */
  ev(e: Expr): Value;
  /** Value of a name: local variable, else request parameter (recorded as used); null if missing. */
  lookup(name: string): Value;
  /** The raw request value of a parameter (for JSON()), undefined if missing. */
  rawParam(name: string): unknown;
  /** Throws when a string would grow past the output limit. */
  checkSize(n: number): void;
}

/** A template function. */
export type Fn = (ctx: Ctx, call: CallExpr) => Value;

/** Name of the parameter an argument refers to (for messages), or a placeholder for expressions. */
export function argName(e: Expr | undefined): string {
  return e && e.k === 'name' ? e.n : '<expression>';
}

/** Evaluates the first argument: a parameter by name (recorded as used), or any expression. */
function argValue(ctx: Ctx, e: Expr | undefined): Value {
  if (!e) return null;
  return e.k === 'name' ? ctx.lookup(e.n) : ctx.ev(e);
}

/** The expression of keyword `name`, or of positional argument `index`. */
function argExpr(call: CallExpr, index: number, name: string): Expr | undefined {
  for (const [k, e] of call.kw) if (k === name) return e;
  return call.args[index];
}

function arg(ctx: Ctx, call: CallExpr, index: number, name: string): Value {
  const e = argExpr(call, index, name);
  return e ? ctx.ev(e) : null;
}

function missing(name: string, type: string): TemplateError {
  return new TemplateError(`Required parameter is not defined: '${name}' (${type})`, { param: name });
}

/** Checks the `enum=[...]` keyword of a typed function. */
function checkEnum(ctx: Ctx, call: CallExpr, name: string, type: string, v: Value): void {
  const e = argExpr(call, 99, 'enum');
  if (!e) return;
  const allowed = ctx.ev(e);
  if (!Array.isArray(allowed) && !(allowed instanceof Tuple)) throw new TemplateError(`enum of '${name}' must be a list`, { param: name });
  const items = Array.isArray(allowed) ? allowed : allowed.items;
  const s = typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v);
  if (!items.some((x) => String(x) === s)) {
    throw new TemplateError(`Error validating parameter '${name}': ${JSON.stringify(s.slice(0, 40))} is not a valid ${type}, expected one of ${items.map((x) => String(x)).join(', ')}`, { param: name });
  }
}

/** The value of a scalar parameter: the last one when repeated. */
function scalarOf(v: Value): Value {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? v[v.length - 1]! : v;
}

/** A typed scalar parameter function (String, Int32, Date, ...). */
function typedFn(type: string): Fn {
  return (ctx, call) => {
    const a0 = call.args[0];
    if (!a0) throw new TemplateError(`${type}() needs a parameter name`);
    const name = argName(a0);
    let v = argValue(ctx, a0);
    if (v === null) {
      if (truthy(arg(ctx, call, 99, 'required'))) throw missing(name, type);
      const d = arg(ctx, call, 1, 'default');
      if (d === null) {
        if (type === 'Boolean') return false;
        const defined = argExpr(call, 99, 'defined');
        if (defined && !truthy(ctx.ev(defined))) return null;
        throw missing(name, type);
      }
      v = d;
    }
    const fmt = argExpr(call, 99, 'format');
    const format = fmt ? ctx.ev(fmt) : null;
    const r = convertScalar(name, type, scalarOf(v), typeof format === 'string' ? format : undefined);
    checkEnum(ctx, call, name, type, r);
    return r;
  };
}

/** Array(name, 'Type', default, defined=..., ...): repeated params, comma-separated text or a JSON array. */
const arrayFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  const t = arg(ctx, call, 1, '_type') ?? 'String';
  if (typeof t !== 'string' || !isElementType(t)) throw new TemplateError(`Array('${name}', ...): unknown element type ${JSON.stringify(t)}`, { param: name });
  const type = SCALAR_TYPES.get(t)!;
  let v = argValue(ctx, a0);
  if (v === null) {
    if (truthy(arg(ctx, call, 99, 'required'))) throw missing(name, `Array(${type})`);
    v = arg(ctx, call, 2, 'default');
    if (v === null) {
      const defined = argExpr(call, 99, 'defined');
      if (defined && !truthy(ctx.ev(defined))) return null;
      throw missing(name, `Array(${type})`);
    }
  }
  let items: Value[];
  if (Array.isArray(v)) items = v;
  else if (v instanceof Tuple) items = v.items;
  else if (typeof v === 'string') {
    if (v.length > MAX_VALUE_LENGTH) throw new TemplateError(`Error validating parameter '${name}': longer than ${MAX_VALUE_LENGTH} characters`, { param: name });
    items = v.split(',');
  } else items = [v];
  if (items.length > MAX_ARRAY_ELEMENTS) throw new TemplateError(`Error validating parameter '${name}': more than ${MAX_ARRAY_ELEMENTS} elements`, { param: name });
  const out = items.map((x) => convertScalar(name, type, x));
  for (const x of out) checkEnum(ctx, call, name, `Array(${type})`, x);
  return out;
};

/** JSON(name, default): a string literal holding valid JSON. */
const jsonFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  let v = argValue(ctx, a0);
  let plain: unknown = a0 && a0.k === 'name' ? ctx.rawParam(a0.n) : toPlain(v);
  if (v === null) {
    if (truthy(arg(ctx, call, 99, 'required'))) throw missing(name, 'JSON');
    const d = arg(ctx, call, 1, 'default');
    v = d === null ? '{}' : d;
    plain = toPlain(v);
  }
  if (v instanceof JsonDoc) return v;
  return convertJson(name, v, plain);
};

const IDENT = /^[A-Za-z0-9_]+$/;
const FN_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Validates a (possibly dotted) identifier and returns it quoted with `quote`. */
function quoteIdent(name: string, v: Value, quote: string, what: string): string {
  if (typeof v !== 'string') throw new TemplateError(`Error validating parameter '${name}': a ${what} name must be a string, not ${typeName(v)}`, { param: name });
  const parts = v.split('.');
  if (v.length > 255 || !parts.every((p) => IDENT.test(p))) {
    throw new TemplateError(`Error validating parameter '${name}': ${JSON.stringify(v.slice(0, 40))} is not a valid ${what} name (letters, digits and _ only)`, { param: name });
  }
  return parts.map((p) => quote + p + quote).join('.');
}

/** column(name, default): a validated, backquoted column identifier. */
const columnFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  let v = argValue(ctx, a0);
  if (v === null) v = arg(ctx, call, 1, 'default');
  if (v === null) throw new TemplateError(`Missing column() default value for '${name}', use column(${name}, 'default_column_name')`, { param: name });
  return new Raw(quoteIdent(name, scalarOf(v), '`', 'column'));
};

/** columns(names, default, fn): comma-separated validated identifiers. */
const columnsFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  let v = argValue(ctx, a0);
  if (v === null) v = arg(ctx, call, 1, 'default');
  if (v === null) throw new TemplateError(`Missing columns() default value for '${name}', use columns(${name}, 'a,b')`, { param: name });
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : null;
  if (!list) throw new TemplateError(`Error validating parameter '${name}': columns() expects a string`, { param: name });
  if (list.length > MAX_ARRAY_ELEMENTS) throw new TemplateError(`Error validating parameter '${name}': too many columns`, { param: name });
  const fn = arg(ctx, call, 2, 'fn');
  if (fn !== null && (typeof fn !== 'string' || !FN_IDENT.test(fn))) throw new TemplateError(`columns(): invalid function name ${JSON.stringify(String(fn))}`);
  return new Raw(list.map((c) => {
    const q = quoteIdent(name, typeof c === 'string' ? c.trim() : c, '`', 'column');
    return fn ? `${fn}(${q}) AS ${q}` : q;
  }).join(','));
};

/** symbol(x, quote): a validated identifier quoted with ` (default) or ". */
const symbolFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  const v = argValue(ctx, a0);
  const quote = arg(ctx, call, 1, 'quote') ?? '`';
  if (quote !== '`' && quote !== '"') throw new TemplateError('symbol(): quote must be ` or "');
  if (v === null) throw missing(name, 'symbol');
  return new Raw(quoteIdent(name, scalarOf(v), quote, 'symbol'));
};

/** table(x): a validated (possibly dotted) table name, unquoted. */
const tableFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  const v = argValue(ctx, a0);
  if (v === null) throw missing(name, 'table');
  return new Raw(quoteIdent(name, scalarOf(v), '', 'table'));
};

const SQL_AND_OPS: Record<string, string> = { in: 'IN', not_in: 'NOT IN', gt: '>', lt: '<', gte: '>=', lte: '<=' };

/** sql_and(col__op=value, ...): `col op literal` joined with AND; undefined (None) values are skipped; `1` when empty. */
const sqlAndFn: Fn = (ctx, call) => {
  if (call.args.length) throw new TemplateError('sql_and() takes keyword arguments only: sql_and(column__in=Array(...), ...)');
  const parts: string[] = [];
  for (const [key, e] of call.kw) {
    const v = ctx.ev(e);
    if (v === null) continue;
    const cut = key.lastIndexOf('__');
    const col = cut > 0 ? key.slice(0, cut) : key;
    const opName = cut > 0 ? key.slice(cut + 2) : '';
    const op = opName ? SQL_AND_OPS[opName] : '=';
    if (!op) throw new TemplateError(`sql_and(): operand ${opName} not supported (in, not_in, gt, lt, gte, lte)`);
    if (!FN_IDENT.test(col)) throw new TemplateError(`sql_and(): invalid column name ${col}`);
    const lit = literalOf(v, key);
    parts.push(`${col} ${op} ${lit}`);
  }
  return new Raw(parts.length ? parts.join(' AND ') : '1');
};

/** SQL literal of a value for sql_and. */
function literalOf(v: Value, what: string): string {
  if (v instanceof Raw) return v.sql;
  if (typeof v === 'string') return quoteString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? (v < 0 ? `(${v})` : String(v)) : (() => { throw new TemplateError(`sql_and(): ${what} is not finite`); })();
  if (typeof v === 'bigint') return v < 0n ? `(${v})` : v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (Array.isArray(v) || v instanceof Tuple) {
    const items = Array.isArray(v) ? v : v.items;
    return '[' + items.map((x) => literalOf(x, what)).join(',') + ']';
  }
  throw new TemplateError(`sql_and(): cannot use a ${typeName(v)} for ${what}`);
}

/** split_to_array(x, default='', separator=','): list of trimmed strings. */
const splitFn: Fn = (ctx, call) => {
  const a0 = call.args[0];
  const name = argName(a0);
  let v = argValue(ctx, a0);
  if (v === null) v = arg(ctx, call, 1, 'default') ?? '';
  const sep = arg(ctx, call, 2, 'separator') ?? ',';
  if (typeof sep !== 'string' || sep === '') throw new TemplateError('split_to_array(): separator must be a non-empty string');
  let out: string[];
  if (Array.isArray(v)) out = v.map((x) => (typeof x === 'string' ? x.trim() : String(x)));
  else if (typeof v === 'string') {
    if (v.length > MAX_VALUE_LENGTH) throw new TemplateError(`Error validating parameter '${name}': longer than ${MAX_VALUE_LENGTH} characters`, { param: name });
    out = v.split(sep).map((s) => s.trim());
  } else throw new TemplateError(`split_to_array(): '${name}' cannot be split (${typeName(v)})`, { param: name });
  if (out.length > MAX_ARRAY_ELEMENTS) throw new TemplateError(`Error validating parameter '${name}': more than ${MAX_ARRAY_ELEMENTS} elements`, { param: name });
  return out;
};

/** Difference of two dates in a unit, per Tinybird's date_diff_in_* (absolute, truncated). */
function dateDiff(unit: number, fnName: string, defaultFormat: string): Fn {
  return (ctx, call) => {
    const d0 = argValue(ctx, call.args[0]);
    const d1 = argValue(ctx, call.args[1]);
    const fmt = arg(ctx, call, 2, 'date_format') ?? defaultFormat;
    const dflt = arg(ctx, call, 3, 'default');
    const backup = arg(ctx, call, 4, 'backup_date_format');
    const noneIfError = truthy(arg(ctx, call, 5, 'none_if_error'));
    if (d0 === null || d1 === null) return dflt ?? 0;
    const parse = (d: Value): number | null => {
      if (typeof d !== 'string' || typeof fmt !== 'string') return null;
      const p = parseWithFormat(d, fmt) ?? (typeof backup === 'string' ? parseWithFormat(d, backup) : null);
      return p ? partsToMs(p) : null;
    };
    const a = parse(d0);
    const b = parse(d1);
    if (a === null || b === null) {
      if (noneIfError) return null;
      throw new TemplateError(`invalid date format in function ${fnName}: expected ${typeof fmt === 'string' ? fmt : defaultFormat}`);
    }
    return Math.trunc(Math.abs(b - a) / unit);
  };
}

/** Status of error()/custom_error(): an integer 400..599, else 400. */
function statusOf(v: Value): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 400 && n <= 599 ? n : 400;
}

/** error('message', code=400): stops rendering with that message and status. */
const errorFn: Fn = (ctx, call) => {
  const msg = arg(ctx, call, 0, 'message');
  throw new TemplateError(typeof msg === 'string' ? msg : String(toPlain(msg)), { status: statusOf(arg(ctx, call, 1, 'code')) });
};

/** custom_error({'error': ..., ...}, code=400): stops rendering; the object is the response body. */
const customErrorFn: Fn = (ctx, call) => {
  const v = arg(ctx, call, 0, 'err');
  const codeArg = arg(ctx, call, 1, 'code');
  if (v instanceof Dict) {
    const body = toPlain(v) as Record<string, unknown>;
    const status = statusOf(codeArg ?? v.map.get('code') ?? null);
    const msg = typeof body.error === 'string' ? body.error : JSON.stringify(body);
    throw new TemplateError(msg, { status, body });
  }
  const msg = typeof v === 'string' ? v : String(toPlain(v));
  throw new TemplateError(msg, { status: statusOf(codeArg), body: { error: msg } });
};

/** Evaluates positional args. */
function args(ctx: Ctx, call: CallExpr): Value[] {
  return call.args.map((e) => ctx.ev(e));
}

/** Numeric value (for builtins), or an error. */
export function num(v: Value, what: string): number | bigint {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TemplateError(`${what}: expected a number, got ${typeName(v)}`);
}

const MAX_RANGE = 100_000;

const builtins: Array<[string, Fn]> = [
  ['len', (ctx, call) => {
    const v = ctx.ev(call.args[0] ?? { k: 'lit', v: null, pos: 0 });
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v instanceof Tuple) return v.items.length;
    if (v instanceof Dict) return v.map.size;
    throw new TemplateError(`len(): unsupported ${typeName(v)}`);
  }],
  ['int', (ctx, call) => {
    const v = ctx.ev(call.args[0] ?? { k: 'lit', v: 0, pos: 0 });
    if (typeof v === 'string') return convertScalar('int()', 'Int256', v.trim());
    const n = num(v, 'int()');
    return typeof n === 'bigint' ? n : Math.trunc(n);
  }],
  ['float', (ctx, call) => {
    const v = ctx.ev(call.args[0] ?? { k: 'lit', v: 0, pos: 0 });
    if (typeof v === 'string') return convertScalar('float()', 'Float64', v.trim());
    return Number(num(v, 'float()'));
  }],
  ['str', (ctx, call) => {
    const v = ctx.ev(call.args[0] ?? { k: 'lit', v: '', pos: 0 });
    if (typeof v === 'string') return v;
    if (v === null) return 'None';
    if (typeof v === 'boolean') return v ? 'True' : 'False';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    if (v instanceof Raw) return v.sql;
    return JSON.stringify(toPlain(v));
  }],
  ['bool', (ctx, call) => truthy(ctx.ev(call.args[0] ?? { k: 'lit', v: false, pos: 0 }))],
  ['abs', (ctx, call) => { const n = num(ctx.ev(call.args[0] ?? { k: 'lit', v: 0, pos: 0 }), 'abs()'); return n < 0 ? -n : n; }],
  ['round', (ctx, call) => {
    const n = Number(num(ctx.ev(call.args[0] ?? { k: 'lit', v: 0, pos: 0 }), 'round()'));
    const d = call.args[1] ? Number(num(ctx.ev(call.args[1]), 'round()')) : 0;
    const f = 10 ** Math.max(0, Math.min(15, Math.trunc(d)));
    return Math.round(n * f) / f;
  }],
  ['max', (ctx, call) => extreme(ctx, call, 1)],
  ['min', (ctx, call) => extreme(ctx, call, -1)],
  ['range', (ctx, call) => {
    const a = args(ctx, call).map((x) => Number(num(x, 'range()')));
    const [start, stop, step] = a.length === 1 ? [0, a[0]!, 1] : [a[0] ?? 0, a[1] ?? 0, a[2] ?? 1];
    if (step === 0 || !Number.isInteger(start) || !Number.isInteger(stop) || !Number.isInteger(step)) throw new TemplateError('range(): invalid arguments');
    const count = Math.max(0, Math.ceil((stop - start) / step));
    if (count > MAX_RANGE) throw new TemplateError(`range(): more than ${MAX_RANGE} elements`);
    ctx.checkSize(count);
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(start + i * step);
    return out;
  }],
  ['enumerate_with_last', (ctx, call) => {
    const v = ctx.ev(call.args[0] ?? { k: 'lit', v: null, pos: 0 });
    const items = Array.isArray(v) ? v : v instanceof Tuple ? v.items : null;
    if (!items) throw new TemplateError(`enumerate_with_last(): expected a list, got ${typeName(v)}`);
    return items.map((x, i) => new Tuple([i === items.length - 1, x]));
  }],
];

/** max()/min() over arguments or one list. */
function extreme(ctx: Ctx, call: CallExpr, sign: number): Value {
  let items = args(ctx, call);
  if (items.length === 1 && Array.isArray(items[0])) items = items[0];
  if (!items.length) throw new TemplateError('max()/min() of an empty sequence');
  let best: Value = items[0]!;
  for (const x of items.slice(1) as Value[]) {
    const a = num(x, 'max()/min()');
    const b = num(best, 'max()/min()');
    if (sign > 0 ? a > b : a < b) best = x;
  }
  return best;
}

/** All functions by name. */
export const FUNCTIONS: ReadonlyMap<string, Fn> = new Map<string, Fn>([
  ...[...SCALAR_TYPES.keys()].map((t) => [t, typedFn(SCALAR_TYPES.get(t)!)] as [string, Fn]),
  ['Array', arrayFn],
  ['JSON', jsonFn],
  ['defined', (ctx, call) => argValue(ctx, call.args[0]) !== null],
  ['column', columnFn],
  ['columns', columnsFn],
  ['symbol', symbolFn],
  ['Symbol', symbolFn],
  ['Column', symbolFn],
  ['table', tableFn],
  ['TABLE', tableFn],
  ['sql_and', sqlAndFn],
  ['sql_unescape', (ctx, call) => { const v = argValue(ctx, call.args[0]); return v === null ? null : String(toPlain(v)); }],
  ['split_to_array', splitFn],
  ['day_diff', dateDiffDays()],
  ['date_diff_in_seconds', dateDiff(1000, 'date_diff_in_seconds', '%Y-%m-%d %H:%M:%S')],
  ['date_diff_in_minutes', dateDiff(60_000, 'date_diff_in_minutes', '%Y-%m-%d %H:%M:%S')],
  ['date_diff_in_hours', dateDiff(3_600_000, 'date_diff_in_hours', '%Y-%m-%d %H:%M:%S')],
  ['date_diff_in_days', dateDiff(86_400_000, 'date_diff_in_days', '%Y-%m-%d')],
  ['error', errorFn],
  ['custom_error', customErrorFn],
  ...builtins,
]);

/** day_diff(d0, d1): absolute days between two YYYY-MM-DD dates. */
function dateDiffDays(): Fn {
  const inner = dateDiff(86_400_000, 'day_diff', '%Y-%m-%d');
  return (ctx, call) => inner(ctx, { ...call, args: call.args.slice(0, 2), kw: call.kw.filter(([k]) => k === 'default').map(([, e]) => ['default', e]) });
}

/** Names of the typed parameter functions (for static discovery). */
export const TYPED_FUNCTIONS: ReadonlySet<string> = new Set([...SCALAR_TYPES.keys(), 'Array', 'JSON']);

/** Plain value of a request parameter as a template value. */
export { fromPlain };
