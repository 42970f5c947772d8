/**
 * Static discovery of a template's parameters: from the typed functions
 * (`Int32(limit, 10, description="...", required=True)`), `Array(x, 'Type')`,
 * `JSON(x)`, and names used by `defined(x)`, `column(x)`, `columns(x)`,
 * `symbol(x)`, `split_to_array(x)`. Names assigned with `{% set %}` or bound by
 * `{% for %}` are not parameters.
 */
import type { Expr, TNode } from './ast.js';
import { SCALAR_TYPES } from './types.js';
import { toPlain, type Value } from './values.js';

/** A parameter of a template, for discoverability (OpenAPI, /v0/pipes). */
export interface TemplateParam {
  name: string;
  type: string;
  default?: unknown;
  required: boolean;
  description?: string;
  example?: string;
  enum?: string[];
  format?: string;
}

const NAME_HELPERS = new Set(['defined', 'column', 'columns', 'symbol', 'Symbol', 'Column', 'split_to_array', 'table', 'TABLE', 'day_diff',
  'date_diff_in_seconds', 'date_diff_in_minutes', 'date_diff_in_hours', 'date_diff_in_days', 'sql_unescape']);

/** A literal's value, or undefined if the expression is not a constant. */
function constant(e: Expr | undefined): Value | undefined {
  if (!e) return undefined;
  if (e.k === 'lit') return e.v;
  if (e.k === 'list' || e.k === 'tuple') {
    const items = e.items.map(constant);
    return items.every((x) => x !== undefined) ? (items as Value[]) : undefined;
  }
  return undefined;
}

function kwOf(e: Extract<Expr, { k: 'call' }>, name: string, index = -1): Expr | undefined {
  for (const [k, x] of e.kw) if (k === name) return x;
  return index >= 0 ? e.args[index] : undefined;
}

/** Collects parameters from parsed nodes. */
export function collectParams(nodes: TNode[]): TemplateParam[] {
  const byName = new Map<string, TemplateParam>();
  const weak = new Set<string>();
  const locals = new Set<string>();

  const add = (p: TemplateParam, strong: boolean): void => {
    const old = byName.get(p.name);
    if (!old) { byName.set(p.name, p); if (!strong) weak.add(p.name); return; }
    if (strong && weak.has(p.name)) {
      weak.delete(p.name);
      old.type = p.type;
    }
    if (!strong) return;
    for (const k of ['default', 'description', 'example', 'enum', 'format'] as const) {
      if (old[k] === undefined && p[k] !== undefined) (old as unknown as Record<string, unknown>)[k] = p[k];
    }
    old.required ||= p.required;
  };

  const expr = (e: Expr): void => {
    switch (e.k) {
      case 'call': {
        if (e.callee.k === 'name') {
          const fn = e.callee.n;
          const a0 = e.args[0];
          if (a0 && a0.k === 'name' && !locals.has(a0.n)) {
            if (SCALAR_TYPES.has(fn) || fn === 'Array' || fn === 'JSON') add(typedParam(fn, a0.n, e), true);
            else if (NAME_HELPERS.has(fn)) add({ name: a0.n, type: 'String', required: false }, false);
            if (fn.startsWith('date_diff') || fn === 'day_diff') {
              const a1 = e.args[1];
              if (a1 && a1.k === 'name' && !locals.has(a1.n)) add({ name: a1.n, type: 'String', required: false }, false);
            }
          }
        } else expr(e.callee);
        e.args.forEach(expr);
        e.kw.forEach(([, x]) => expr(x));
        break;
      }
      case 'list': case 'tuple': e.items.forEach(expr); break;
      case 'dict': e.keys.forEach(expr); e.vals.forEach(expr); break;
      case 'attr': expr(e.obj); break;
      case 'index': expr(e.obj); expr(e.idx); break;
      case 'slice': expr(e.obj); if (e.lo) expr(e.lo); if (e.hi) expr(e.hi); break;
      case 'un': expr(e.e); break;
      case 'bin': case 'and': case 'or': expr(e.l); expr(e.r); break;
      case 'cmp': e.operands.forEach(expr); break;
      case 'cond': expr(e.test); expr(e.a); expr(e.b); break;
      case 'lit': case 'name': break;
    }
  };

  const walk = (ns: TNode[]): void => {
    for (const n of ns) {
      switch (n.k) {
        case 'out': expr(n.e); break;
        case 'set': expr(n.e); locals.add(n.target); break;
        case 'if': n.conds.forEach(expr); n.bodies.forEach(walk); if (n.otherwise) walk(n.otherwise); break;
        case 'for': expr(n.iter); n.targets.forEach((t) => locals.add(t)); walk(n.body); break;
        case 'text': break;
      }
    }
  };
  walk(nodes);
  return [...byName.values()];
}

/** The parameter described by a typed function call. */
function typedParam(fn: string, name: string, e: Extract<Expr, { k: 'call' }>): TemplateParam {
  let type: string;
  let dflt: Expr | undefined;
  if (fn === 'Array') {
    const t = constant(kwOf(e, '_type', 1));
    const el = typeof t === 'string' && SCALAR_TYPES.has(t) ? SCALAR_TYPES.get(t)! : 'String';
    type = `Array(${el})`;
    dflt = kwOf(e, 'default', 2);
  } else {
    type = fn === 'JSON' ? 'JSON' : SCALAR_TYPES.get(fn)!;
    dflt = kwOf(e, 'default', 1);
  }
  const p: TemplateParam = { name, type, required: constant(kwOf(e, 'required')) === true };
  const d = constant(dflt);
  if (d !== undefined && d !== null) p.default = toPlain(d);
  const desc = constant(kwOf(e, 'description'));
  if (typeof desc === 'string') p.description = desc;
  const ex = constant(kwOf(e, 'example'));
  if (ex !== undefined && ex !== null) p.example = typeof ex === 'string' ? ex : String(toPlain(ex));
  const en = constant(kwOf(e, 'enum'));
  if (Array.isArray(en)) p.enum = en.map((x) => String(toPlain(x)));
  const fmt = constant(kwOf(e, 'format'));
  if (typeof fmt === 'string') p.format = fmt;
  return p;
}
