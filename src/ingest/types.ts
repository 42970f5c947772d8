/**
 * Per-column validators/encoders, built once per column by `compileColumn`. Each
 * turns an incoming value (a parsed JSON value for NDJSON, a string for CSV) into
 * the JSON text that ClickHouse's JSONEachRow input reads identically on 26.x and
 * 18.16, or into a `ValueError` naming the problem (`value 'abc' is not a valid Int32`).
 *
 * Precision: integers of 64 bits and more, and decimals, are written from their
 * exact source text. When the fast JSON.parse path has already rounded a number,
 * the encoder answers `INEXACT` and the caller re-parses that line losslessly.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ColumnDef } from '../catalog/schema.js';
import { INT_TYPES, innerTypes, parseType, formatType, type TypeNode } from '../catalog/types.js';
import { compileJsonPath, type CompiledJsonPath } from './jsonpath.js';
import { isLossless, jsonString, JsonNumber, parseJsonLossless, stringifyJson } from './json.js';
import { jsonStringToTsv, tsvConverter, tsvEscape } from './tsv.js';

/** A value that does not fit its column; `message` is shown to the customer. */
export class ValueError {
  constructor(readonly message: string) {}
}

/** Returned when a JS number lost precision: re-parse the row with `parseJsonLossless`. */
export const INEXACT: ValueError = new ValueError('number needs exact parsing');

/** JSON text for a value, or the reason it was refused. `OMIT` means: leave the key out. */
export type Encoded = string | ValueError;

/** Encoded form meaning "do not write this key; ClickHouse applies the column DEFAULT". */
export const OMIT = '';

/** A codec for one ClickHouse type. `fromJson` gets null for JSON null / missing elements. */
interface Codec {
  readonly typeName: string;
  fromJson(v: unknown): Encoded;
  fromText(s: string): Encoded;
  /** Optional fast path: the TSV text of a present, non-null JSON value (same validation as fromJson). */
  tsvFromJson?: (v: unknown) => Encoded;
}

/** A column ready for encoding. */
export interface CompiledColumn {
  readonly name: string;
  readonly type: string;
  /** `"name":` — the JSONEachRow key prefix. */
  readonly key: string;
  readonly path: CompiledJsonPath;
  readonly hasDefault: boolean;
  /** What a missing (or null) value becomes: a literal default, `null`, OMIT, or an error. */
  readonly missing: Encoded;
  /** Encodes a present, non-null JSON value. */
  encodeJson(v: unknown): Encoded;
  /** Encodes a CSV field (empty field = missing when the column has a DEFAULT). */
  encodeText(s: string): Encoded;
  /**
   * TabSeparated form of a present, non-null JSON value (same validation and errors
   * as encodeJson); null when the type has no TSV path (Map, Tuple, nested arrays).
   * An empty string is a value here (the empty String), never OMIT.
   */
  readonly encodeJsonTsv: ((v: unknown) => Encoded) | null;
  /** TSV text of a missing value, when `missing` is a value (not OMIT, not an error). */
  readonly missingTsv: Encoded;
}

const SHOW_MAX = 100;

/** Short printable form of a value for error messages. */
export function showValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v instanceof JsonNumber) s = v.text;
  else if (v === undefined) s = '';
  else s = stringifyJson(v);
  return s.length > SHOW_MAX ? `${s.slice(0, SHOW_MAX)}...` : s;
}

function notValid(v: unknown, typeName: string): ValueError {
  return new ValueError(`value '${showValue(v)}' is not a valid ${typeName}`);
}
function outOfRange(v: unknown, typeName: string): ValueError {
  return new ValueError(`value '${showValue(v)}' is out of range for ${typeName}`);
}

const INT_TEXT = /^[+-]?[0-9]{1,80}$/;

function intCodec(typeName: string, bits: number, signed: boolean): Codec {
  const maxB = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  const minB = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const maxN = Number(maxB);
  const minN = Number(minB);
  const small = bits <= 32;
  const fromIntText = (t: string, orig: unknown): Encoded => {
    if (!INT_TEXT.test(t)) return notValid(orig, typeName);
    if (t.length <= 15) {
      const n = Number(t);
      if (n < minN || n > maxN) return outOfRange(orig, typeName);
      return String(n);
    }
    const b = BigInt(t);
    if (b < minB || b > maxB) return outOfRange(orig, typeName);
    return b.toString();
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) return notValid(v, typeName);
        if (Number.isSafeInteger(v)) {
          if (v < minN || v > maxN) return outOfRange(v, typeName);
          return String(v);
        }
        return small ? outOfRange(v, typeName) : INEXACT;
      }
      if (v instanceof JsonNumber) return fromIntText(v.text, v);
      if (typeof v === 'string') return fromIntText(v, v);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => fromIntText(s, s),
  };
}

const FLOAT_TEXT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?$/;
const FLOAT32_MAX = 3.4028234663852886e38;

function floatCodec(typeName: string): Codec {
  const max = typeName === 'Float32' ? FLOAT32_MAX : Number.MAX_VALUE;
  const fromNumber = (n: number, orig: unknown): Encoded => {
    if (!Number.isFinite(n) || Math.abs(n) > max) return outOfRange(orig, typeName);
    return String(n);
  };
  const fromTextValue = (t: string, orig: unknown): Encoded => (FLOAT_TEXT.test(t) ? fromNumber(Number(t), orig) : notValid(orig, typeName));
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'number') return fromNumber(v, v);
      if (v instanceof JsonNumber) return fromNumber(Number(v.text), v);
      if (typeof v === 'string') return fromTextValue(v, v);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => fromTextValue(s, s),
  };
}

const DECIMAL_TEXT = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/;

function decimalCodec(typeName: string, precision: number, scale: number): Codec {
  const fromDecText = (t: string, orig: unknown): Encoded => {
    const m = DECIMAL_TEXT.exec(t);
    if (m === null || t.length > 200) return notValid(orig, typeName);
    const sign = m[1] === '-' ? '-' : '';
    let intPart = (m[2] as string).replace(/^0+/, '');
    let frac = m[3] ?? '';
    if ((m[2] as string).length === 0 && frac.length === 0) return notValid(orig, typeName);
    if (frac.length > scale) {
      if (/[1-9]/.test(frac.slice(scale))) {
        return new ValueError(`value '${showValue(orig)}' has more than ${scale} decimal places for ${typeName}`);
      }
      frac = frac.slice(0, scale);
    }
    if (intPart.length > precision - scale) return outOfRange(orig, typeName);
    if (intPart === '') intPart = '0';
    return frac.length > 0 ? `${sign}${intPart}.${frac}` : `${sign}${intPart}`;
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) return notValid(v, typeName);
        const s = String(v);
        if (s.includes('e') || s.replace(/[-.]/g, '').replace(/^0+/, '').length > 15) return INEXACT;
        return fromDecText(s, v);
      }
      if (v instanceof JsonNumber) return fromDecText(v.text, v);
      if (typeof v === 'string') return fromDecText(v, v);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => fromDecText(s, s),
  };
}

function stringCodec(typeName: string, fixedLength: number | null): Codec {
  const tooLong = (s: string): ValueError | null =>
    fixedLength !== null && s.length > fixedLength / 3 && Buffer.byteLength(s) > fixedLength
      ? new ValueError(`value '${showValue(s)}' is longer than ${fixedLength} bytes for ${typeName}`)
      : null;
  const check = (s: string): Encoded => tooLong(s) ?? jsonString(s);
  const fromJson = (v: unknown): Encoded => {
    if (typeof v === 'string') return check(v);
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return INEXACT;
      return check(String(v));
    }
    if (v instanceof JsonNumber) return check(v.text);
    if (typeof v === 'boolean') return check(v ? 'true' : 'false');
    if (v !== null && typeof v === 'object') return check(isLossless(v) ? stringifyJson(v) : JSON.stringify(v));
    return notValid(v, typeName);
  };
  return {
    typeName,
    fromJson,
    fromText: check,
    tsvFromJson(v: unknown): Encoded {
      if (typeof v === 'string') return tooLong(v) ?? tsvEscape(v);
      const r = fromJson(v);
      return typeof r === 'string' ? jsonStringToTsv(r) : r;
    },
  };
}

function textOnlyCodec(typeName: string, valid: (s: string) => boolean): Codec {
  const enc = (v: unknown): Encoded => (typeof v === 'string' && v.length <= 64 && valid(v) ? JSON.stringify(v) : notValid(v, typeName));
  return { typeName, fromJson: enc, fromText: enc };
}

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function boolCodec(): Codec {
  const fromTextValue = (s: string): Encoded => {
    const t = s.toLowerCase();
    if (t === 'true' || t === '1') return 'true';
    if (t === 'false' || t === '0') return 'false';
    return notValid(s, 'Bool');
  };
  return {
    typeName: 'Bool',
    fromJson(v: unknown): Encoded {
      if (v === true) return 'true';
      if (v === false) return 'false';
      if (v === 1 || v === 0) return v === 1 ? 'true' : 'false';
      if (v instanceof JsonNumber || typeof v === 'string') return fromTextValue(showValue(v));
      return notValid(v, 'Bool');
    },
    fromText: fromTextValue,
  };
}

function enumCodec(node: TypeNode): Codec {
  const typeName = formatType(node);
  const byName = new Map<string, string>();
  const byValue = new Map<string, string>();
  for (const a of node.args) {
    if (a.kind !== 'enum') continue;
    const enc = JSON.stringify(a.name);
    byName.set(a.name, enc);
    byValue.set(String(a.value), enc);
  }
  const lookup = (s: string, orig: unknown): Encoded => byName.get(s) ?? byValue.get(s) ?? new ValueError(`value '${showValue(orig)}' is not one of the values of ${typeName}`);
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'string') return byName.get(v) ?? new ValueError(`value '${showValue(v)}' is not one of the values of ${typeName}`);
      if (typeof v === 'number' || v instanceof JsonNumber) return byValue.get(showValue(v)) ?? lookup('\u0000', v);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => lookup(s, s),
  };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const max = m === 2 && leap ? 29 : (DAYS_IN_MONTH[m - 1] as number);
  return d <= max;
}
function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

function dateCodec(typeName: string): Codec {
  const [minY, maxY, maxStr] = typeName === 'Date' ? [1970, 2149, '2149-06-06'] : [1900, 2299, '2299-12-31'];
  const fromDateText = (s: string, orig: unknown): Encoded => {
    const m = DATE_TEXT.exec(s);
    if (m === null) {
      if (/^[0-9]{1,12}$/.test(s)) return fromEpoch(Number(s), orig);
      return notValid(orig, typeName);
    }
    const y = Number(m[1]);
    if (!validDate(y, Number(m[2]), Number(m[3]))) return notValid(orig, typeName);
    if (y < minY || y > maxY || s > maxStr) return outOfRange(orig, typeName);
    return `"${s}"`;
  };
  const fromEpoch = (n: number, orig: unknown): Encoded => {
    if (!Number.isInteger(n)) return notValid(orig, typeName);
    const d = new Date(n * 1000);
    if (Number.isNaN(d.getTime())) return outOfRange(orig, typeName);
    return fromDateText(d.toISOString().slice(0, 10), orig);
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'string') return fromDateText(v, v);
      if (typeof v === 'number') return fromEpoch(v, v);
      if (v instanceof JsonNumber) return fromEpoch(Number(v.text), v);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => fromDateText(s, s),
  };
}

const DATETIME_TEXT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const EPOCH_TEXT = /^(-?\d{1,12})(?:\.(\d{1,9}))?$/;

function digits(s: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Fast path for the common `YYYY-MM-DD hh:mm:ss` DateTime text; null: use the full parser. */
function plainDateTime(s: string): string | null {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return null;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const hh = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const ss = digits(s, 17, 2);
  if (y < 1970 || y > 2106 || mo < 0 || d < 0 || hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59 || !validDate(y, mo, d)) return null;
  return `"${s}"`;
}

/** DateTime (precision null) and DateTime64(precision). */
function dateTimeCodec(typeName: string, precision: number | null): Codec {
  // Unix timestamps are written unquoted for DateTime (read as a timestamp by 18.16 and
  // 26.x alike) and as a quoted, 10-digit zero-padded `"0000000005.500"` for DateTime64
  // (26.x reads short quoted digits as a date, and negative or 11-digit ones not at all).
  const [minEpoch, maxEpoch, minY, maxY] = precision === null ? [0, 4294967295, 1970, 2106] : [0, 9999999999, 1900, 2299];
  const fracOut = (frac: string): string => {
    if (precision === null || precision === 0) return '';
    return `.${frac.padEnd(precision, '0').slice(0, precision)}`;
  };
  const fromEpochText = (intText: string, frac: string, orig: unknown): Encoded => {
    const n = Number(intText);
    if (n < minEpoch || n > maxEpoch) return outOfRange(orig, typeName);
    if (precision === null && frac !== '' && /[1-9]/.test(frac)) return notValid(orig, typeName);
    if (precision === null) return String(n);
    return `"${String(n).padStart(10, '0')}${fracOut(frac)}"`;
  };
  const fromString = (s: string, orig: unknown): Encoded => {
    if (s.length === 19 && precision === null) {
      const fast = plainDateTime(s);
      if (fast !== null) return fast;
    }
    const e = EPOCH_TEXT.exec(s);
    if (e !== null) return fromEpochText(e[1] as string, e[2] ?? '', orig);
    const m = DATETIME_TEXT.exec(s);
    if (m === null) return notValid(orig, typeName);
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    const hh = Number(m[4] ?? '0');
    const mi = Number(m[5] ?? '0');
    const ss = Number(m[6] ?? '0');
    const frac = m[7] ?? '';
    const tz = m[8];
    if (!validDate(y, mo, d) || hh > 23 || mi > 59 || ss > 59) return notValid(orig, typeName);
    if (tz !== undefined) {
      let offsetMin = 0;
      if (tz !== 'Z') {
        const digits = tz.slice(1).replace(':', '');
        offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
        if (offsetMin > 14 * 60) return notValid(orig, typeName);
        if (tz[0] === '-') offsetMin = -offsetMin;
      }
      const epoch = Date.UTC(y, mo - 1, d, hh, mi, ss) / 1000 - offsetMin * 60;
      return fromEpochText(String(epoch), frac, orig);
    }
    if (y < minY || y > maxY) return outOfRange(orig, typeName);
    return `"${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(hh, 2)}:${pad(mi, 2)}:${pad(ss, 2)}${fracOut(frac)}"`;
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (typeof v === 'string') return fromString(v, v);
      if (typeof v === 'number') {
        const s = String(v);
        return EPOCH_TEXT.test(s) ? fromString(s, v) : notValid(v, typeName);
      }
      if (v instanceof JsonNumber) return EPOCH_TEXT.test(v.text) ? fromString(v.text, v) : notValid(v, typeName);
      return notValid(v, typeName);
    },
    fromText: (s: string): Encoded => fromString(s, s),
  };
}

function nullableCodec(inner: Codec): Codec {
  return {
    typeName: `Nullable(${inner.typeName})`,
    fromJson: (v: unknown): Encoded => (v === null || v === undefined ? 'null' : inner.fromJson(v)),
    fromText: (s: string): Encoded => (s === '' || s === '\\N' ? 'null' : inner.fromText(s)),
    ...(inner.tsvFromJson === undefined ? {} : { tsvFromJson: inner.tsvFromJson }),
  };
}

/** Parses a CSV cell holding a composite value (`[1,2]`, `['a','b']`, `{"k":1}`). */
function parseComposite(s: string): unknown {
  if (s.length > 10 * 1024 * 1024) return undefined;
  try {
    return parseJsonLossless(s, true);
  } catch {
    return undefined;
  }
}

function arrayCodec(inner: Codec): Codec {
  const typeName = `Array(${inner.typeName})`;
  const fromArray = (a: unknown[]): Encoded => {
    let out = '[';
    for (let i = 0; i < a.length; i++) {
      const el = a[i];
      const r = inner.fromJson(el === undefined ? null : el);
      if (typeof r !== 'string') return r;
      out += i === 0 ? r : `,${r}`;
    }
    return `${out}]`;
  };
  const fromString = (s: string): Encoded => {
    const p = parseComposite(s);
    return Array.isArray(p) ? fromArray(p) : notValid(s, typeName);
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (Array.isArray(v)) return fromArray(v);
      if (typeof v === 'string') return fromString(v);
      return notValid(v, typeName);
    },
    fromText: fromString,
  };
}

function mapCodec(key: Codec, value: Codec): Codec {
  const typeName = `Map(${key.typeName}, ${value.typeName})`;
  const fromObject = (o: object): Encoded => {
    let out = '{';
    let first = true;
    for (const k of Object.keys(o)) {
      const kr = key.fromText(k);
      if (typeof kr !== 'string') return kr;
      const val = (o as Record<string, unknown>)[k];
      const vr = value.fromJson(val === undefined ? null : val);
      if (typeof vr !== 'string') return vr;
      out += `${first ? '' : ','}${kr.startsWith('"') ? kr : JSON.stringify(kr)}:${vr}`;
      first = false;
    }
    return `${out}}`;
  };
  const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);
  const fromString = (s: string): Encoded => {
    const p = parseComposite(s);
    return isObject(p) ? fromObject(p) : notValid(s, typeName);
  };
  return {
    typeName,
    fromJson(v: unknown): Encoded {
      if (isObject(v)) return fromObject(v);
      if (typeof v === 'string') return fromString(v);
      return notValid(v, typeName);
    },
    fromText: fromString,
  };
}

function tupleCodec(elements: Codec[], names: Array<string | null>): Codec {
  const typeName = `Tuple(${elements.map((e, i) => (names[i] === null ? e.typeName : `${names[i]} ${e.typeName}`)).join(', ')})`;
  const named = names.every((n) => n !== null);
  // Named tuples are written as objects (ClickHouse >= 23 reads them only so, with
  // input_format_json_named_tuples_as_objects on by default); unnamed ones as arrays.
  const keys = names.map((n) => (n === null ? '' : `${JSON.stringify(n)}:`));
  const fromValues = (get: (i: number) => unknown): Encoded => {
    let out = named ? '{' : '[';
    for (let i = 0; i < elements.length; i++) {
      const el = get(i);
      const r = (elements[i] as Codec).fromJson(el === undefined ? null : el);
      if (typeof r !== 'string') return r;
      out += (i === 0 ? '' : ',') + (keys[i] as string) + r;
    }
    return out + (named ? '}' : ']');
  };
  const fromParsed = (v: unknown, orig: unknown): Encoded => {
    if (Array.isArray(v)) {
      if (v.length !== elements.length) return notValid(orig, typeName);
      return fromValues((i) => v[i]);
    }
    if (named && v !== null && typeof v === 'object' && !(v instanceof JsonNumber)) {
      const o = v as Record<string, unknown>;
      return fromValues((i) => (Object.prototype.hasOwnProperty.call(o, names[i] as string) ? o[names[i] as string] : undefined));
    }
    return notValid(orig, typeName);
  };
  return {
    typeName,
    fromJson: (v: unknown): Encoded => (typeof v === 'string' ? fromParsed(parseComposite(v), v) : fromParsed(v, v)),
    fromText: (s: string): Encoded => fromParsed(parseComposite(s), s),
  };
}

function numberArg(node: TypeNode, i: number): number {
  const a = node.args[i];
  return a !== undefined && a.kind === 'number' ? Number(a.value) : 0;
}

/** Builds the codec of a (validated) type tree. */
function buildCodec(node: TypeNode): Codec {
  const name = node.name;
  const int = INT_TYPES.get(name);
  if (int !== undefined) return intCodec(name, int.bits, int.signed);
  switch (name) {
    case 'Float32':
    case 'Float64':
      return floatCodec(name);
    case 'Decimal':
      return decimalCodec(formatType(node), numberArg(node, 0), numberArg(node, 1));
    case 'Decimal32':
      return decimalCodec(name, 9, numberArg(node, 0));
    case 'Decimal64':
      return decimalCodec(name, 18, numberArg(node, 0));
    case 'Decimal128':
      return decimalCodec(name, 38, numberArg(node, 0));
    case 'Decimal256':
      return decimalCodec(name, 76, numberArg(node, 0));
    case 'String':
      return stringCodec(name, null);
    case 'FixedString':
      return stringCodec(formatType(node), numberArg(node, 0));
    case 'UUID':
      return textOnlyCodec(name, (s) => UUID_TEXT.test(s));
    case 'IPv4':
      return textOnlyCodec(name, (s) => isIPv4(s));
    case 'IPv6':
      return textOnlyCodec(name, (s) => !s.includes('%') && (isIPv6(s) || isIPv4(s)));
    case 'Bool':
      return boolCodec();
    case 'Date':
    case 'Date32':
      return dateCodec(name);
    case 'DateTime':
      return dateTimeCodec(formatType(node), null);
    case 'DateTime64':
      return dateTimeCodec(formatType(node), numberArg(node, 0));
    case 'Enum8':
    case 'Enum16':
      return enumCodec(node);
    case 'Nullable':
      return nullableCodec(buildCodec(innerTypes(node)[0] as TypeNode));
    case 'LowCardinality':
      return buildCodec(innerTypes(node)[0] as TypeNode);
    case 'Array':
      return arrayCodec(buildCodec(innerTypes(node)[0] as TypeNode));
    case 'Map': {
      const [k, v] = innerTypes(node) as [TypeNode, TypeNode];
      return mapCodec(buildCodec(k), buildCodec(v));
    }
    case 'Tuple':
      return tupleCodec(
        innerTypes(node).map(buildCodec),
        node.args.map((a) => (a.kind === 'type' ? a.fieldName : null)),
      );
    default:
      throw new Error(`no encoder for type ${name}`);
  }
}

/**
 * A DEFAULT expression that is a plain literal (number, 'string', true/false, NULL, [])
 * as a value; undefined when it is any other expression.
 */
function defaultLiteral(expr: string): { value: unknown; text: boolean } | undefined {
  const t = expr.trim();
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(t)) return { value: t, text: true };
  if (/^(true|false)$/i.test(t)) return { value: t.toLowerCase() === 'true', text: false };
  if (/^null$/i.test(t)) return { value: null, text: false };
  if (t === '[]') return { value: [], text: false };
  if (t.length >= 2 && t.startsWith("'") && t.endsWith("'")) {
    try {
      const v = parseJsonLossless(t, true);
      if (typeof v === 'string') return { value: v, text: true };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Builds the validator/encoder of one column (type, JSONPath, default). */
export function compileColumn(col: ColumnDef): CompiledColumn {
  const node = parseType(col.type);
  const codec = buildCodec(node);
  const nullable = node.name === 'Nullable' || (node.name === 'LowCardinality' && (innerTypes(node)[0] as TypeNode).name === 'Nullable');
  let missing: Encoded;
  if (col.defaultExpr !== null) {
    const lit = defaultLiteral(col.defaultExpr);
    let r: Encoded = OMIT;
    if (lit !== undefined) r = lit.text ? codec.fromText(lit.value as string) : codec.fromJson(lit.value);
    missing = typeof r === 'string' ? r : OMIT;
  } else if (nullable) {
    missing = 'null';
  } else {
    missing = new ValueError('value is missing and the column is not Nullable and has no DEFAULT');
  }
  const hasDefault = col.defaultExpr !== null;
  const convert = tsvConverter(node);
  let encodeJsonTsv: ((v: unknown) => Encoded) | null = null;
  if (convert !== null) {
    const fromJson = codec.fromJson;
    encodeJsonTsv = codec.tsvFromJson ?? ((v: unknown): Encoded => {
      const r = fromJson(v);
      return typeof r === 'string' ? convert(r) : r;
    });
  }
  const missingTsv: Encoded = convert !== null && typeof missing === 'string' && missing !== OMIT ? convert(missing) : missing;
  return {
    name: col.name,
    type: col.type,
    key: `${JSON.stringify(col.name)}:`,
    path: compileJsonPath(col.jsonpath ?? `$['${col.name}']`),
    hasDefault,
    missing,
    encodeJson: codec.fromJson,
    encodeText: (s: string): Encoded => (s === '' && hasDefault ? missing : codec.fromText(s)),
    encodeJsonTsv,
    missingTsv,
  };
}

/**
 * Columns whose DEFAULT is an expression that only ClickHouse can evaluate: their key
 * is left out of JSONEachRow rows that lack a value. ClickHouse ≥ 19 applies the
 * expression (input_format_defaults_for_omitted_fields, on by default); 18.16 stores
 * the type's default value instead.
 */
export function serverDefaultColumns(columns: readonly ColumnDef[]): string[] {
  return columns.filter((c) => compileColumn(c).missing === OMIT).map((c) => c.name);
}
