/**
 * The interpreter: renders a parsed template with request parameter values.
 * A small, safe evaluator over the AST (no eval, no host objects), bounded by a
 * step limit, an output size limit and the parser's nesting limit.
 */
import type { Expr, ParsedTemplate, TNode } from './ast.js';
import { lineCol, TemplateError } from './errors.js';
import { FUNCTIONS, num, type Ctx } from './functions.js';
import { MAX_ARRAY_ELEMENTS, MAX_VALUE_LENGTH } from './types.js';
import { Dict, fromPlain, JsonDoc, Raw, toSql, truthy, Tuple, typeName, type Value } from './values.js';

/** Parameter values of a request (see index.ts). */
export type ParamValues = Readonly<Record<string, string | string[] | number | boolean | null | unknown[] | Record<string, unknown>>>;

/** Most evaluation steps per render (expressions + nodes + loop iterations). */
export const MAX_STEPS = 1_000_000;
/** Default limit of the rendered SQL (1 MiB). */
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;

const hasOwn = Object.prototype.hasOwnProperty;

/** Converts a request value to a template value, enforcing the per-value size limits. */
function requestValue(name: string, raw: unknown): Value {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'string') {
    if (raw.length > MAX_VALUE_LENGTH) throw new TemplateError(`Parameter '${name}' is longer than ${MAX_VALUE_LENGTH} characters`, { param: name });
    return raw;
  }
  if (typeof raw === 'number' || typeof raw === 'boolean') return raw;
  if (Array.isArray(raw)) {
    if (raw.length > MAX_ARRAY_ELEMENTS) throw new TemplateError(`Parameter '${name}' has more than ${MAX_ARRAY_ELEMENTS} values`, { param: name });
    let total = 0;
    for (const x of raw) {
      if (typeof x === 'string') total += x.length;
      else if (x !== null && typeof x === 'object') total += MAX_VALUE_LENGTH; // nested structures are not parameters
    }
    if (total > MAX_VALUE_LENGTH) throw new TemplateError(`Parameter '${name}' is longer than ${MAX_VALUE_LENGTH} characters`, { param: name });
    return raw.map(fromPlain);
  }
  if (typeof raw === 'object') {
    let text: string | undefined;
    try { text = JSON.stringify(raw); } catch { text = undefined; }
    if (text === undefined || text.length > MAX_VALUE_LENGTH) throw new TemplateError(`Parameter '${name}' is longer than ${MAX_VALUE_LENGTH} characters`, { param: name });
    return fromPlain(raw);
  }
  throw new TemplateError(`Parameter '${name}' has an unsupported value`, { param: name });
}

/** One rendering: state and the evaluator. */
class Run implements Ctx {
  out = '';
  steps = 0;
  readonly used: string[] = [];
  private readonly locals = new Map<string, Value>();
  private readonly seen = new Map<string, Value>();

  constructor(private readonly tpl: ParsedTemplate, private readonly values: ParamValues, private readonly max: number) {}

  lookup(name: string): Value {
    const l = this.locals.get(name);
    if (l !== undefined || this.locals.has(name)) return l ?? null;
    const s = this.seen.get(name);
    if (s !== undefined) return s;
    this.used.push(name);
    const v = requestValue(name, hasOwn.call(this.values, name) ? this.values[name] : undefined);
    this.seen.set(name, v);
    return v;
  }

  rawParam(name: string): unknown {
    return hasOwn.call(this.values, name) ? this.values[name] : undefined;
  }

  checkSize(n: number): void {
    if (n > this.max) throw new TemplateError(`Template output would exceed ${this.max} characters`);
  }

  private step(): void {
    if (++this.steps > MAX_STEPS) throw new TemplateError(`Template is too expensive to render (more than ${MAX_STEPS} steps)`);
  }

  private append(s: string): void {
    this.out += s;
    if (this.out.length > this.max) throw new TemplateError(`Rendered SQL exceeds ${this.max} characters`);
  }

  exec(nodes: TNode[]): void {
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      this.step();
      switch (n.k) {
        case 'text': this.append(n.s); break;
        case 'out': {
          const v = this.ev(n.e);
          if (v === null && n.e.k === 'name' && !this.locals.has(n.e.n)) {
            throw new TemplateError(`Required parameter is not defined: '${n.e.n}'`, { param: n.e.n });
          }
          this.append(toSql(v, n.src));
          break;
        }
        case 'set': this.locals.set(n.target, this.ev(n.e)); break;
        case 'if': {
          let done = false;
          for (let c = 0; c < n.conds.length; c++) {
            if (truthy(this.ev(n.conds[c]!))) { this.exec(n.bodies[c]!); done = true; break; }
          }
          if (!done && n.otherwise) this.exec(n.otherwise);
          break;
        }
        case 'for': {
          const items = this.iterable(this.ev(n.iter), n.pos);
          for (const item of items) {
            this.step();
            if (n.targets.length === 1) this.locals.set(n.targets[0]!, item);
            else {
              const parts = Array.isArray(item) ? item : item instanceof Tuple ? item.items : null;
              if (!parts || parts.length !== n.targets.length) throw this.at(n.pos, `cannot unpack ${typeName(item)} into ${n.targets.length} loop variables`);
              n.targets.forEach((t, j) => this.locals.set(t, parts[j]!));
            }
            this.exec(n.body);
          }
          break;
        }
      }
    }
  }

  /** An error pointing at a position of the template. */
  private at(pos: number, message: string): TemplateError {
    const { line, column } = lineCol(this.tpl.text, pos);
    return new TemplateError(`${message} (line ${line}, column ${column})`);
  }

  private iterable(v: Value, pos: number): Value[] {
    if (Array.isArray(v)) return v.slice();
    if (v instanceof Tuple) return v.items;
    if (typeof v === 'string') return [...v];
    if (v instanceof Dict) return [...v.map.keys()];
    if (v instanceof JsonDoc) return this.iterable(fromPlain(v.value), pos);
    throw this.at(pos, `cannot iterate over ${typeName(v)}`);
  }

  ev(e: Expr): Value {
    this.step();
    switch (e.k) {
      case 'lit': return e.v;
      case 'name': {
        if (this.locals.has(e.n)) return this.locals.get(e.n)!;
        return this.lookup(e.n);
      }
      case 'call': {
        if (e.callee.k === 'name') {
          const fn = FUNCTIONS.get(e.callee.n);
          if (!fn) throw this.at(e.pos, `unknown function ${e.callee.n}()`);
          return fn(this, e);
        }
        if (e.callee.k === 'attr') return this.method(this.ev(e.callee.obj), e.callee.name, e.args.map((a) => this.ev(a)), e.pos);
        throw this.at(e.pos, 'only named functions can be called');
      }
      case 'list': return e.items.map((x) => this.ev(x));
      case 'tuple': return new Tuple(e.items.map((x) => this.ev(x)));
      case 'dict': {
        const m = new Map<string, Value>();
        e.keys.forEach((k, i) => m.set(String(this.ev(k)), this.ev(e.vals[i]!)));
        return new Dict(m);
      }
      case 'attr': throw this.at(e.pos, `attribute .${e.name} is only supported as a method call`);
      case 'index': return this.index(this.ev(e.obj), this.ev(e.idx), e.pos);
      case 'slice': {
        const o = this.ev(e.obj);
        const lo = e.lo ? Number(num(this.ev(e.lo), 'slice')) : undefined;
        const hi = e.hi ? Number(num(this.ev(e.hi), 'slice')) : undefined;
        if (typeof o === 'string' || Array.isArray(o)) return o.slice(lo, hi);
        if (o instanceof Tuple) return new Tuple(o.items.slice(lo, hi));
        throw this.at(e.pos, `cannot slice ${typeName(o)}`);
      }
      case 'un': {
        const v = this.ev(e.e);
        if (e.op === 'not') return !truthy(v);
        const n = num(v, `unary ${e.op}`);
        return e.op === '-' ? -n : n;
      }
      case 'and': { const l = this.ev(e.l); return truthy(l) ? this.ev(e.r) : l; }
      case 'or': { const l = this.ev(e.l); return truthy(l) ? l : this.ev(e.r); }
      case 'cond': return truthy(this.ev(e.test)) ? this.ev(e.a) : this.ev(e.b);
      case 'bin': return this.arith(e.op, this.ev(e.l), this.ev(e.r), e.pos);
      case 'cmp': {
        let left = this.ev(e.operands[0]!);
        for (let i = 0; i < e.ops.length; i++) {
          const right = this.ev(e.operands[i + 1]!);
          if (!this.compare(e.ops[i]!, left, right, e.pos)) return false;
          left = right;
        }
        return true;
      }
    }
  }

  private index(o: Value, i: Value, pos: number): Value {
    if (o instanceof Dict) {
      const v = o.map.get(String(i));
      if (v === undefined) throw this.at(pos, `key ${JSON.stringify(String(i))} not found`);
      return v;
    }
    if (o instanceof JsonDoc) return this.index(fromPlain(o.value), i, pos);
    const items = typeof o === 'string' || Array.isArray(o) ? o : o instanceof Tuple ? o.items : null;
    if (!items) throw this.at(pos, `cannot index ${typeName(o)}`);
    let k = Number(num(i, 'index'));
    if (k < 0) k += items.length;
    if (!Number.isInteger(k) || k < 0 || k >= items.length) throw this.at(pos, 'index out of range');
    return items[k]!;
  }

  private method(o: Value, name: string, a: Value[], pos: number): Value {
    const str = (i: number): string | undefined => { const v = a[i]; if (v === undefined || v === null) return undefined; if (typeof v !== 'string') throw this.at(pos, `${name}() expects a string argument`); return v; };
    if (typeof o === 'string') {
      switch (name) {
        case 'lower': return o.toLowerCase();
        case 'upper': return o.toUpperCase();
        case 'strip': return o.trim();
        case 'lstrip': return o.trimStart();
        case 'rstrip': return o.trimEnd();
        case 'split': { const s = str(0); const r = s === undefined ? o.trim().split(/\s+/).filter(Boolean) : o.split(s); if (r.length > MAX_ARRAY_ELEMENTS) throw this.at(pos, 'too many elements'); return r; }
        case 'startswith': return o.startsWith(str(0) ?? '');
        case 'endswith': return o.endsWith(str(0) ?? '');
        case 'isdigit': return /^\d+$/.test(o);
        case 'replace': { const r = o.split(str(0) ?? '').join(str(1) ?? ''); this.checkSize(r.length); return r; }
        case 'join': {
          const items = a[0];
          const list = Array.isArray(items) ? items : items instanceof Tuple ? items.items : null;
          if (!list || !list.every((x) => typeof x === 'string')) throw this.at(pos, 'join() expects a list of strings');
          const r = list.join(o);
          this.checkSize(r.length);
          return r;
        }
      }
    }
    if (o instanceof Dict && name === 'get') return o.map.get(String(a[0])) ?? a[1] ?? null;
    if (o instanceof Dict && name === 'keys') return [...o.map.keys()];
    if (o instanceof Dict && name === 'values') return [...o.map.values()];
    throw this.at(pos, `unsupported method ${typeName(o)}.${name}()`);
  }

  private arith(op: string, l: Value, r: Value, pos: number): Value {
    if (op === '+') {
      if (typeof l === 'string' && typeof r === 'string') { this.checkSize(l.length + r.length); return l + r; }
      if (Array.isArray(l) && Array.isArray(r)) { this.checkSize(l.length + r.length); return l.concat(r); }
      if (l instanceof Tuple && r instanceof Tuple) return new Tuple(l.items.concat(r.items));
    }
    if (!isNum(l) || !isNum(r)) throw this.at(pos, `unsupported operand types for ${op}: ${typeName(l)} and ${typeName(r)}`);
    let a = num(l, op);
    let b = num(r, op);
    if (typeof a === 'bigint' || typeof b === 'bigint') {
      if (op !== '/' && (typeof a === 'bigint' || Number.isInteger(a)) && (typeof b === 'bigint' || Number.isInteger(b))) {
        const x = BigInt(a);
        const y = BigInt(b);
        switch (op) {
          case '+': return norm(x + y);
          case '-': return norm(x - y);
          case '*': return norm(x * y);
          case '//': if (y === 0n) throw this.at(pos, 'division by zero'); return norm(floorDiv(x, y));
          case '%': if (y === 0n) throw this.at(pos, 'division by zero'); return norm(((x % y) + y) % y);
          case '**': if (y < 0n || y > 256n) throw this.at(pos, 'exponent out of range'); return norm(x ** y);
        }
      }
      a = Number(a);
      b = Number(b);
    }
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/': if (b === 0) throw this.at(pos, 'division by zero'); return a / b;
      case '//': if (b === 0) throw this.at(pos, 'division by zero'); return Math.floor(a / b);
      case '%': if (b === 0) throw this.at(pos, 'division by zero'); return ((a % b) + b) % b;
      case '**': return a ** b;
    }
    throw this.at(pos, `unsupported operator ${op}`);
  }

  private compare(op: string, a: Value, b: Value, pos: number): boolean {
    switch (op) {
      case '==': return equal(a, b);
      case '!=': return !equal(a, b);
      case 'is': return a === b || (a === null && b === null);
      case 'is not': return !(a === b || (a === null && b === null));
      case 'in': return this.contains(b, a, pos);
      case 'not in': return !this.contains(b, a, pos);
    }
    const c = this.order(a, b, pos);
    switch (op) {
      case '<': return c < 0;
      case '<=': return c <= 0;
      case '>': return c > 0;
      default: return c >= 0;
    }
  }

  private contains(container: Value, x: Value, pos: number): boolean {
    if (typeof container === 'string') {
      if (typeof x !== 'string') throw this.at(pos, `'in <string>' requires a string, not ${typeName(x)}`);
      return container.includes(x);
    }
    if (Array.isArray(container)) return container.some((y) => equal(x, y));
    if (container instanceof Tuple) return container.items.some((y) => equal(x, y));
    if (container instanceof Dict) return container.map.has(String(x));
    if (container === null) return false;
    throw this.at(pos, `'in' is not supported on ${typeName(container)}`);
  }

  private order(a: Value, b: Value, pos: number): number {
    const x = numeric(a);
    const y = numeric(b);
    if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
    if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        if (!equal(a[i]!, b[i]!)) return this.order(a[i]!, b[i]!, pos);
      }
      return a.length - b.length;
    }
    throw this.at(pos, `cannot compare ${typeName(a)} with ${typeName(b)}`);
  }
}

function isNum(v: Value): v is number | bigint | boolean {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** Back to a number when a bigint fits safely. */
function norm(n: bigint): number | bigint {
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}

function floorDiv(x: bigint, y: bigint): bigint {
  const q = x / y;
  return (x % y !== 0n) && ((x < 0n) !== (y < 0n)) ? q - 1n : q;
}

const NUMERIC_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number for comparisons: numbers, booleans, and numeric strings (lenient: query-string values are text). */
function numeric(v: Value): number | bigint | null {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.length < 400 && NUMERIC_TEXT.test(v)) {
    if (/^[+-]?\d+$/.test(v)) { const b = BigInt(v); return norm(b); }
    return Number(v);
  }
  return null;
}

/** Python-like equality, lenient between numbers and numeric strings. */
export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (typeof a === 'string' && typeof b === 'string') return false;
  if (isNum(a) || isNum(b)) {
    const x = numeric(a);
    const y = numeric(b);
    // eslint-disable-next-line eqeqeq
    return x !== null && y !== null && x == y;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]!));
  if (a instanceof Tuple && b instanceof Tuple) return a.items.length === b.items.length && a.items.every((x, i) => equal(x, b.items[i]!));
  if (a instanceof Raw && b instanceof Raw) return a.sql === b.sql;
  return false;
}

/** Renders a parsed template; returns the SQL and the parameters read. */
export function renderParsed(tpl: ParsedTemplate, values: ParamValues, maxOutput: number): { sql: string; used: string[] } {
  const run = new Run(tpl, values, maxOutput);
  run.exec(tpl.nodes);
  return { sql: run.out, used: run.used };
}
