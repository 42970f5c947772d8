/**
 * ClickHouse column types accepted for data source columns: a small tokenizer and
 * recursive-descent parser into a `TypeNode` tree, validation of the arguments of
 * every supported type family, and a canonical text form.
 *
 * Only types that ingestion knows how to validate and encode are accepted. Note
 * that ClickHouse 18.16 lacks some of them (DateTime64, Date32, Bool, IPv4, IPv6,
 * Map, Int128/256, LowCardinality without an experimental setting); data sources
 * using them can only live on newer hosts.
 */

/** One argument of a parameterised type. */
export type TypeArg =
  | { kind: 'type'; type: TypeNode; fieldName: string | null }
  | { kind: 'number'; value: string }
  | { kind: 'string'; value: string }
  | { kind: 'enum'; name: string; value: number };

/** A parsed ClickHouse type such as `Array(Nullable(String))`. */
export interface TypeNode {
  name: string;
  args: TypeArg[];
}

/** Raised for a type that cannot be parsed or is not supported; the message says why. */
export class TypeSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypeSyntaxError';
  }
}

const MAX_TYPE_LENGTH = 8192;
const MAX_DEPTH = 16;
const MAX_ARGS = 1000;

/** Integer types and their bit width / signedness. */
export const INT_TYPES: ReadonlyMap<string, { bits: number; signed: boolean }> = new Map([
  ['Int8', { bits: 8, signed: true }],
  ['Int16', { bits: 16, signed: true }],
  ['Int32', { bits: 32, signed: true }],
  ['Int64', { bits: 64, signed: true }],
  ['Int128', { bits: 128, signed: true }],
  ['Int256', { bits: 256, signed: true }],
  ['UInt8', { bits: 8, signed: false }],
  ['UInt16', { bits: 16, signed: false }],
  ['UInt32', { bits: 32, signed: false }],
  ['UInt64', { bits: 64, signed: false }],
  ['UInt128', { bits: 128, signed: false }],
  ['UInt256', { bits: 256, signed: false }],
]);

const SIMPLE_TYPES = new Set(['Float32', 'Float64', 'String', 'UUID', 'IPv4', 'IPv6', 'Bool', 'Date', 'Date32']);
const DECIMAL_FIXED: ReadonlyMap<string, number> = new Map([
  ['Decimal32', 9],
  ['Decimal64', 18],
  ['Decimal128', 38],
  ['Decimal256', 76],
]);

type Token =
  | { t: 'ident'; v: string }
  | { t: 'number'; v: string }
  | { t: 'string'; v: string }
  | { t: 'punct'; v: string };

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length && (isIdentStart(text.charCodeAt(j)) || isDigit(text.charCodeAt(j)))) j++;
      out.push({ t: 'ident', v: text.slice(i, j) });
      i = j;
    } else if (isDigit(c) || (c === 45 && i + 1 < text.length && isDigit(text.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      out.push({ t: 'number', v: text.slice(i, j) });
      i = j;
    } else if (c === 39) {
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= text.length) throw new TypeSyntaxError('unterminated string literal');
        const ch = text[j] as string;
        if (ch === '\\') {
          if (j + 1 >= text.length) throw new TypeSyntaxError('unterminated string literal');
          v += text[j + 1];
          j += 2;
        } else if (ch === "'") {
          if (text[j + 1] === "'") {
            v += "'";
            j += 2;
          } else {
            j++;
            break;
          }
        } else {
          v += ch;
          j++;
        }
      }
      out.push({ t: 'string', v });
      i = j;
    } else if (c === 40 || c === 41 || c === 44 || c === 61) {
      out.push({ t: 'punct', v: text[i] as string });
      i++;
    } else {
      throw new TypeSyntaxError(`unexpected character '${text[i]}'`);
    }
  }
  return out;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  peek(offset = 0): Token | undefined {
    return this.toks[this.pos + offset];
  }
  next(): Token | undefined {
    return this.toks[this.pos++];
  }
  atEnd(): boolean {
    return this.pos >= this.toks.length;
  }
  expectPunct(p: string): void {
    const t = this.next();
    if (t === undefined || t.t !== 'punct' || t.v !== p) throw new TypeSyntaxError(`expected '${p}'`);
  }
  isPunct(p: string): boolean {
    const t = this.peek();
    return t !== undefined && t.t === 'punct' && t.v === p;
  }

  parseType(depth: number): TypeNode {
    if (depth > MAX_DEPTH) throw new TypeSyntaxError('type is nested too deeply');
    const t = this.next();
    if (t === undefined || t.t !== 'ident') throw new TypeSyntaxError('expected a type name');
    const node: TypeNode = { name: t.v, args: [] };
    if (!this.isPunct('(')) return node;
    this.next();
    if (this.isPunct(')')) {
      this.next();
      return node;
    }
    for (;;) {
      if (node.args.length >= MAX_ARGS) throw new TypeSyntaxError('too many type arguments');
      node.args.push(this.parseArg(node.name, depth));
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      this.expectPunct(')');
      return node;
    }
  }

  parseArg(family: string, depth: number): TypeArg {
    const t = this.peek();
    if (t === undefined) throw new TypeSyntaxError('unexpected end of type');
    if (t.t === 'number') {
      this.next();
      return { kind: 'number', value: t.v };
    }
    if (t.t === 'string') {
      this.next();
      if (this.isPunct('=')) {
        this.next();
        const n = this.next();
        if (n === undefined || n.t !== 'number') throw new TypeSyntaxError(`expected a number after '${t.v}' =`);
        return { kind: 'enum', name: t.v, value: Number(n.v) };
      }
      return { kind: 'string', value: t.v };
    }
    if (t.t === 'ident') {
      const after = this.peek(1);
      if (family === 'Tuple' && after !== undefined && after.t === 'ident') {
        this.next();
        return { kind: 'type', type: this.parseType(depth + 1), fieldName: t.v };
      }
      return { kind: 'type', type: this.parseType(depth + 1), fieldName: null };
    }
    throw new TypeSyntaxError(`unexpected '${t.v}'`);
  }
}

function typeArgs(node: TypeNode): TypeNode[] {
  const out: TypeNode[] = [];
  for (const a of node.args) {
    if (a.kind !== 'type') throw new TypeSyntaxError(`${node.name} takes types as arguments`);
    out.push(a.type);
  }
  return out;
}

function numberArg(node: TypeNode, index: number, min: number, max: number, what: string): number {
  const a = node.args[index];
  if (a === undefined || a.kind !== 'number') throw new TypeSyntaxError(`${node.name} needs ${what}`);
  const n = Number(a.value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TypeSyntaxError(`${node.name}: ${what} must be between ${min} and ${max}`);
  }
  return n;
}

const TIMEZONE = /^[A-Za-z0-9_+\-/]{1,64}$/;

function timezoneArg(node: TypeNode, index: number): void {
  const a = node.args[index];
  if (a === undefined) return;
  if (a.kind !== 'string' || !TIMEZONE.test(a.value)) throw new TypeSyntaxError(`${node.name}: invalid time zone`);
}

function argCount(node: TypeNode, min: number, max: number): void {
  if (node.args.length < min || node.args.length > max) {
    const want = min === max ? String(min) : `${min} to ${max}`;
    throw new TypeSyntaxError(`${node.name} takes ${want} argument${max === 1 ? '' : 's'}`);
  }
}

/** Whether `node` may be wrapped in Nullable(...). */
function nullableInnerOk(node: TypeNode): boolean {
  return !['Nullable', 'Array', 'Map', 'Tuple', 'LowCardinality'].includes(node.name);
}

function lowCardinalityInnerOk(node: TypeNode): boolean {
  const n = node.name === 'Nullable' ? (typeArgs(node)[0] as TypeNode).name : node.name;
  return n === 'String' || n === 'FixedString' || INT_TYPES.has(n) || n === 'Float32' || n === 'Float64' ||
    n === 'Date' || n === 'Date32' || n === 'DateTime' || n === 'UUID' || n === 'IPv4' || n === 'IPv6';
}

function mapKeyOk(node: TypeNode): boolean {
  const n = node.name === 'LowCardinality' ? (typeArgs(node)[0] as TypeNode).name : node.name;
  return n === 'String' || n === 'FixedString' || INT_TYPES.has(n) || n === 'UUID' || n === 'Date' ||
    n === 'DateTime' || n === 'Enum8' || n === 'Enum16' || n === 'Bool' || n === 'IPv4' || n === 'IPv6';
}

function validate(node: TypeNode): void {
  const name = node.name;
  if (INT_TYPES.has(name) || SIMPLE_TYPES.has(name)) {
    argCount(node, 0, 0);
    return;
  }
  switch (name) {
    case 'DateTime':
      argCount(node, 0, 1);
      timezoneArg(node, 0);
      return;
    case 'DateTime64':
      argCount(node, 1, 2);
      numberArg(node, 0, 0, 9, 'a precision');
      timezoneArg(node, 1);
      return;
    case 'Decimal': {
      argCount(node, 2, 2);
      const p = numberArg(node, 0, 1, 76, 'a precision');
      numberArg(node, 1, 0, p, 'a scale');
      return;
    }
    case 'FixedString':
      argCount(node, 1, 1);
      numberArg(node, 0, 1, 65535, 'a length');
      return;
    case 'Enum8':
    case 'Enum16': {
      if (node.args.length === 0) throw new TypeSyntaxError(`${name} needs at least one value`);
      const [lo, hi] = name === 'Enum8' ? [-128, 127] : [-32768, 32767];
      const names = new Set<string>();
      const values = new Set<number>();
      for (const a of node.args) {
        if (a.kind !== 'enum') throw new TypeSyntaxError(`${name} values must look like 'name' = number`);
        if (!Number.isInteger(a.value) || a.value < lo || a.value > hi) {
          throw new TypeSyntaxError(`${name} value ${a.value} is out of range`);
        }
        if (names.has(a.name)) throw new TypeSyntaxError(`${name} name '${a.name}' is repeated`);
        if (values.has(a.value)) throw new TypeSyntaxError(`${name} value ${a.value} is repeated`);
        names.add(a.name);
        values.add(a.value);
      }
      return;
    }
    case 'Nullable': {
      argCount(node, 1, 1);
      const inner = typeArgs(node)[0] as TypeNode;
      validate(inner);
      if (!nullableInnerOk(inner)) throw new TypeSyntaxError(`Nullable(${inner.name}) is not allowed`);
      return;
    }
    case 'LowCardinality': {
      argCount(node, 1, 1);
      const inner = typeArgs(node)[0] as TypeNode;
      validate(inner);
      if (!lowCardinalityInnerOk(inner)) throw new TypeSyntaxError(`LowCardinality(${inner.name}) is not allowed`);
      return;
    }
    case 'Array': {
      argCount(node, 1, 1);
      validate(typeArgs(node)[0] as TypeNode);
      return;
    }
    case 'Map': {
      argCount(node, 2, 2);
      const [k, v] = typeArgs(node) as [TypeNode, TypeNode];
      validate(k);
      validate(v);
      if (!mapKeyOk(k)) throw new TypeSyntaxError(`Map key type ${k.name} is not allowed`);
      return;
    }
    case 'Tuple': {
      if (node.args.length === 0) throw new TypeSyntaxError('Tuple needs at least one element');
      const named = node.args.filter((a) => a.kind === 'type' && a.fieldName !== null).length;
      if (named !== 0 && named !== node.args.length) throw new TypeSyntaxError('Tuple elements must be all named or all unnamed');
      const seen = new Set<string>();
      for (const a of node.args) {
        if (a.kind !== 'type') throw new TypeSyntaxError('Tuple takes types as arguments');
        if (a.fieldName !== null) {
          if (seen.has(a.fieldName)) throw new TypeSyntaxError(`Tuple element '${a.fieldName}' is repeated`);
          seen.add(a.fieldName);
        }
        validate(a.type);
      }
      return;
    }
    default: {
      const maxScale = DECIMAL_FIXED.get(name);
      if (maxScale !== undefined) {
        argCount(node, 1, 1);
        numberArg(node, 0, 0, maxScale, 'a scale');
        return;
      }
      throw new TypeSyntaxError(`unknown type '${name}'`);
    }
  }
}

/** Parses and validates a ClickHouse type; throws TypeSyntaxError naming the problem. */
export function parseType(text: string): TypeNode {
  if (text.length > MAX_TYPE_LENGTH) throw new TypeSyntaxError('type is too long');
  const p = new Parser(tokenize(text));
  const node = p.parseType(0);
  if (!p.atEnd()) throw new TypeSyntaxError(`unexpected text after type '${node.name}'`);
  validate(node);
  return node;
}

/** Quotes a ClickHouse string literal with single quotes. */
export function quoteStringLiteral(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** Canonical text form of a type, e.g. `DateTime64(3, 'UTC')`. */
export function formatType(node: TypeNode): string {
  if (node.args.length === 0) return node.name === 'Tuple' ? 'Tuple()' : node.name;
  const parts = node.args.map((a): string => {
    switch (a.kind) {
      case 'type':
        return a.fieldName === null ? formatType(a.type) : `${a.fieldName} ${formatType(a.type)}`;
      case 'number':
        return a.value;
      case 'string':
        return quoteStringLiteral(a.value);
      case 'enum':
        return `${quoteStringLiteral(a.name)} = ${a.value}`;
    }
  });
  return `${node.name}(${parts.join(', ')})`;
}

/** The inner types of a type node (for Nullable, LowCardinality, Array, Map, Tuple). */
export function innerTypes(node: TypeNode): TypeNode[] {
  return typeArgs(node);
}
