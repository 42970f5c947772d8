/**
 * Parameter types of the template language: validation and conversion of a
 * request value (query-string text or typed JSON value) to a typed value.
 * Every failure is a 400 TemplateError naming the parameter and the type.
 */
import { TemplateError } from './errors.js';
import { JsonDoc, type Value } from './values.js';

/** Longest accepted text of one parameter value (64 KiB, in UTF-16 code units); longer is a 400. */
export const MAX_VALUE_LENGTH = 64 * 1024;
/** Most elements accepted in one Array parameter. */
export const MAX_ARRAY_ELEMENTS = 10_000;

const INT_BITS: Record<string, { signed: boolean; bits: number }> = {
  Int8: { signed: true, bits: 8 }, Int16: { signed: true, bits: 16 }, Int32: { signed: true, bits: 32 },
  Int64: { signed: true, bits: 64 }, Int128: { signed: true, bits: 128 }, Int256: { signed: true, bits: 256 },
  UInt8: { signed: false, bits: 8 }, UInt16: { signed: false, bits: 16 }, UInt32: { signed: false, bits: 32 },
  UInt64: { signed: false, bits: 64 }, UInt128: { signed: false, bits: 128 }, UInt256: { signed: false, bits: 256 },
};

/** Range of each integer type, as BigInt. */
const INT_RANGE = new Map<string, { min: bigint; max: bigint }>();
for (const [name, t] of Object.entries(INT_BITS)) {
  const b = BigInt(t.bits);
  INT_RANGE.set(name, t.signed ? { min: -(2n ** (b - 1n)), max: 2n ** (b - 1n) - 1n } : { min: 0n, max: 2n ** b - 1n });
}

/** Canonical type names of the scalar parameter functions (aliases resolved). */
export const SCALAR_TYPES: ReadonlyMap<string, string> = new Map([
  ...Object.keys(INT_BITS).map((k) => [k, k] as [string, string]),
  ['Int', 'Int32'], ['Integer', 'Int32'],
  ['Float32', 'Float32'], ['Float64', 'Float64'],
  ['String', 'String'], ['Boolean', 'Boolean'], ['bool', 'Boolean'],
  ['Date', 'Date'], ['DateTime', 'DateTime'], ['DateTime64', 'DateTime64'],
]);

/** True for a type name accepted as an Array element type. */
export function isElementType(t: string): boolean {
  return SCALAR_TYPES.has(t);
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const DATETIME64_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
const FLOAT32_MAX = 3.4028234663852886e38;

function bad(param: string, type: string, value: unknown, why?: string): TemplateError {
  let shown = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (shown.length > 40) shown = shown.slice(0, 40) + '...';
  return new TemplateError(
    `Error validating parameter '${param}': ${JSON.stringify(shown)} is not a valid ${type}${why ? ` (${why})` : ''}`,
    { param },
  );
}

/** True when y-m-d is a real calendar date. */
export function validYmd(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const dim = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
  return d <= dim;
}

function validHms(h: number, mi: number, s: number): boolean {
  return h <= 23 && mi <= 59 && s <= 59;
}

/** The text of a scalar value for parsing, or an error for structured values. */
function scalarText(param: string, type: string, v: Value): string {
  if (typeof v === 'string') {
    if (v.length > MAX_VALUE_LENGTH) throw bad(param, type, v, `longer than ${MAX_VALUE_LENGTH} characters`);
    return v;
  }
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  throw bad(param, type, v);
}

/**
 * Converts a value to the scalar type `type` (a canonical name from SCALAR_TYPES),
 * with an optional strptime-like `format` for dates. Throws a 400 naming `param`.
 */
export function convertScalar(param: string, type: string, v: Value, format?: string): Value {
  const range = INT_RANGE.get(type);
  if (range) {
    let n: bigint;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw bad(param, type, v);
      n = BigInt(v);
    } else if (typeof v === 'bigint') {
      n = v;
    } else {
      const s = scalarText(param, type, v);
      if (!INT_RE.test(s) || s.length > 90) throw bad(param, type, v);
      n = BigInt(s);
    }
    if (n < range.min || n > range.max) throw bad(param, type, v, `out of range ${range.min}..${range.max}`);
    return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
  }
  switch (type) {
    case 'String':
      if (typeof v === 'string') {
        if (v.length > MAX_VALUE_LENGTH) throw bad(param, type, v, `longer than ${MAX_VALUE_LENGTH} characters`);
        return v;
      }
      return scalarText(param, type, v);
    case 'Float32':
    case 'Float64': {
      let f: number;
      if (typeof v === 'number') f = v;
      else {
        const s = scalarText(param, type, v);
        if (!FLOAT_RE.test(s)) throw bad(param, type, v);
        f = Number(s);
      }
      if (!Number.isFinite(f)) throw bad(param, type, v, 'not finite');
      if (type === 'Float32' && Math.abs(f) > FLOAT32_MAX) throw bad(param, type, v, 'out of range');
      return f;
    }
    case 'Boolean': {
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      const s = typeof v === 'string' ? v.toLowerCase() : '';
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      throw bad(param, type, v, 'expected true, false, 1 or 0');
    }
    case 'Date':
    case 'DateTime':
    case 'DateTime64': {
      const s = scalarText(param, type, v);
      if (format !== undefined && format.includes('%')) {
        const t = parseWithFormat(s, format);
        if (!t) throw bad(param, type, v, `expected format ${format}`);
        return canonicalDate(type, t);
      }
      if (type === 'Date') {
        const m = DATE_RE.exec(s);
        if (!m || !validYmd(+m[1]!, +m[2]!, +m[3]!)) throw bad(param, type, v, 'expected YYYY-MM-DD');
        return s;
      }
      const m = (type === 'DateTime' ? DATETIME_RE : DATETIME64_RE).exec(s);
      if (!m || !validYmd(+m[1]!, +m[2]!, +m[3]!) || !validHms(+m[4]!, +m[5]!, +m[6]!)) {
        throw bad(param, type, v, type === 'DateTime' ? 'expected YYYY-MM-DD hh:mm:ss' : 'expected YYYY-MM-DD hh:mm:ss[.fff]');
      }
      return s.charAt(10) === 'T' ? s.slice(0, 10) + ' ' + s.slice(11) : s;
    }
  }
  throw new TemplateError(`Unknown parameter type ${type}`, { param });
}

/** Converts a JSON() parameter: a string must hold valid JSON; objects/arrays from a JSON body are kept. */
export function convertJson(param: string, v: Value | unknown, plain: unknown): JsonDoc {
  if (typeof v === 'string') {
    if (v.length > MAX_VALUE_LENGTH) throw bad(param, 'JSON', v, `longer than ${MAX_VALUE_LENGTH} characters`);
    try {
      const parsed: unknown = JSON.parse(v);
      return new JsonDoc(parsed, JSON.stringify(parsed));
    } catch {
      throw bad(param, 'JSON', v, 'invalid JSON');
    }
  }
  const text = JSON.stringify(plain, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  if (text === undefined) throw bad(param, 'JSON', v);
  if (text.length > MAX_VALUE_LENGTH) throw bad(param, 'JSON', '(value)', `longer than ${MAX_VALUE_LENGTH} characters`);
  return new JsonDoc(plain, text);
}

/** Broken-down time from parseWithFormat. */
export interface Parts { y: number; mo: number; d: number; h: number; mi: number; s: number; frac: string }

const formatCache = new Map<string, { re: RegExp; fields: string[] } | null>();

/** Compiles a strptime subset (%Y %y %m %d %H %M %S %f %%; literals case-insensitive) to a regex. */
function compileFormat(fmt: string): { re: RegExp; fields: string[] } | null {
  const hit = formatCache.get(fmt);
  if (hit !== undefined) return hit;
  let src = '^';
  const fields: string[] = [];
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') { src += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'); continue; }
    const d = fmt[++i];
    const pat: Record<string, string> = { Y: '(\\d{4})', y: '(\\d{2})', m: '(\\d{1,2})', d: '(\\d{1,2})', H: '(\\d{1,2})', M: '(\\d{1,2})', S: '(\\d{1,2})', f: '(\\d{1,6})' };
    if (d === '%') { src += '%'; continue; }
    if (d === undefined || !(d in pat)) { if (formatCache.size < 100) formatCache.set(fmt, null); return null; }
    src += pat[d];
    fields.push(d);
  }
  const r = { re: new RegExp(src + '$', 'i'), fields };
  if (formatCache.size < 100) formatCache.set(fmt, r);
  return r;
}

/** Parses `s` with a strptime-like format; null if it does not match or is not a real date/time. */
export function parseWithFormat(s: string, fmt: string): Parts | null {
  const f = compileFormat(fmt);
  if (!f || s.length > 100) return null;
  const m = f.re.exec(s);
  if (!m) return null;
  const p: Parts = { y: 1900, mo: 1, d: 1, h: 0, mi: 0, s: 0, frac: '' };
  f.fields.forEach((k, i) => {
    const t = m[i + 1]!;
    switch (k) {
      case 'Y': p.y = +t; break;
      case 'y': p.y = +t < 69 ? 2000 + +t : 1900 + +t; break;
      case 'm': p.mo = +t; break;
      case 'd': p.d = +t; break;
      case 'H': p.h = +t; break;
      case 'M': p.mi = +t; break;
      case 'S': p.s = +t; break;
      case 'f': p.frac = t; break;
    }
  });
  if (!validYmd(p.y, p.mo, p.d) || !validHms(p.h, p.mi, p.s)) return null;
  return p;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Canonical ClickHouse text of a parsed date for a Date/DateTime/DateTime64 parameter. */
function canonicalDate(type: string, p: Parts): string {
  const date = `${pad(p.y, 4)}-${pad(p.mo)}-${pad(p.d)}`;
  if (type === 'Date') return date;
  const time = `${date} ${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  return type === 'DateTime64' && p.frac ? `${time}.${p.frac}` : time;
}

/** Milliseconds since the epoch (UTC) of parsed parts. */
export function partsToMs(p: Parts): number {
  const ms = p.frac ? Number(('0.' + p.frac)) * 1000 : 0;
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) + ms;
}
