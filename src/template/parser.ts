/**
 * Parser of Tinybird (Tornado-style) templates: splits the text into literal
 * text, `{{ expr }}`, `{% stmt %}` and `{# comment #}`, and parses expressions
 * into an AST. Syntax errors carry line/column of the original text.
 */
import type { Expr, ParsedTemplate, TNode } from './ast.js';
import { syntaxError } from './errors.js';
import { tokenize, type Token } from './lexer.js';

/** Deepest nesting of blocks and expressions accepted. */
export const MAX_DEPTH = 64;

/** Offset of the body when the first non-empty line is `%`, else -1. */
export function templateBodyStart(text: string): number {
  let i = 0;
  while (i < text.length) {
    let j = text.indexOf('\n', i);
    if (j < 0) j = text.length;
    const line = text.slice(i, j).trim();
    if (line !== '') return line === '%' ? Math.min(j + 1, text.length) : -1;
    i = j + 1;
  }
  return -1;
}

interface Block { kind: 'root' | 'if' | 'for'; node: TNode | null; body: TNode[]; pos: number }

/** Parses a template (or returns an empty non-template). */
export function parseTemplate(text: string): ParsedTemplate {
  const start = templateBodyStart(text);
  if (start < 0) return { text, isTemplate: false, nodes: [] };
  const root: Block = { kind: 'root', node: null, body: [], pos: start };
  const stack: Block[] = [root];
  let cur = root.body;
  let textBuf = '';
  const flush = (): void => {
    if (textBuf) cur.push({ k: 'text', s: textBuf });
    textBuf = '';
  };
  let i = start;
  const n = text.length;
  while (i < n) {
    const b = text.indexOf('{', i);
    if (b < 0 || b + 1 >= n) { textBuf += text.slice(i); break; }
    const kind = text[b + 1];
    if (kind !== '{' && kind !== '%' && kind !== '#') { textBuf += text.slice(i, b + 1); i = b + 1; continue; }
    textBuf += text.slice(i, b);
    if (text[b + 2] === '!') { textBuf += '{' + kind; i = b + 3; continue; }
    const closer = kind === '{' ? '}}' : kind === '%' ? '%}' : '#}';
    const e = text.indexOf(closer, b + 2);
    if (e < 0) throw syntaxError(text, b, `missing ${closer} for ${'{' + kind}`);
    i = e + 2;
    if (kind === '#') continue;
    if (kind === '{') {
      const src = text.slice(b + 2, e).trim();
      if (!src) throw syntaxError(text, b, 'empty expression');
      flush();
      cur.push({ k: 'out', e: parseExpr(text, b + 2, e), src: src.length > 60 ? src.slice(0, 60) + '...' : src, pos: b });
      continue;
    }
    // {% statement %}
    let s = b + 2;
    while (s < e && /\s/.test(text[s]!)) s++;
    let w = s;
    while (w < e && /[A-Za-z_]/.test(text[w]!)) w++;
    const word = text.slice(s, w);
    flush();
    switch (word) {
      case 'if': {
        const node: TNode = { k: 'if', conds: [parseExpr(text, w, e)], bodies: [[]], otherwise: null, pos: b };
        cur.push(node);
        if (stack.length >= MAX_DEPTH) throw syntaxError(text, b, 'blocks nested too deeply');
        stack.push({ kind: 'if', node, body: node.bodies[0]!, pos: b });
        cur = node.bodies[0]!;
        break;
      }
      case 'elif':
      case 'else': {
        const top = stack[stack.length - 1]!;
        const node = top.node;
        if (top.kind !== 'if' || !node || node.k !== 'if' || node.otherwise) throw syntaxError(text, b, `${word} outside an if block`);
        if (word === 'elif') {
          const body: TNode[] = [];
          node.conds.push(parseExpr(text, w, e));
          node.bodies.push(body);
          cur = body;
        } else {
          if (text.slice(w, e).trim()) throw syntaxError(text, w, 'unexpected text after else');
          node.otherwise = [];
          cur = node.otherwise;
        }
        break;
      }
      case 'end': {
        if (stack.length === 1) throw syntaxError(text, b, 'end without an open block');
        if (text.slice(w, e).trim()) throw syntaxError(text, w, 'unexpected text after end');
        stack.pop();
        const top = stack[stack.length - 1]!;
        cur = top.kind === 'root' ? root.body : currentBody(top);
        break;
      }
      case 'for': {
        const inAt = findIn(text, w, e);
        if (inAt < 0) throw syntaxError(text, w, 'expected for <name> in <expression>');
        const targets = text.slice(w, inAt).split(',').map((t) => t.trim().replace(/^\(|\)$/g, '').trim());
        for (const t of targets) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) throw syntaxError(text, w, `invalid loop variable ${JSON.stringify(t)}`);
        const node: TNode = { k: 'for', targets, iter: parseExpr(text, inAt + 2, e), body: [], pos: b };
        cur.push(node);
        if (stack.length >= MAX_DEPTH) throw syntaxError(text, b, 'blocks nested too deeply');
        stack.push({ kind: 'for', node, body: node.body, pos: b });
        cur = node.body;
        break;
      }
      case 'set': {
        const eq = text.indexOf('=', w);
        if (eq < 0 || eq >= e) throw syntaxError(text, w, 'expected set <name> = <expression>');
        const target = text.slice(w, eq).trim();
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(target)) throw syntaxError(text, w, `invalid variable name ${JSON.stringify(target)}`);
        cur.push({ k: 'set', target, e: parseExpr(text, eq + 1, e), pos: b });
        break;
      }
      case 'comment':
        break;
      default:
        throw syntaxError(text, s, word ? `unsupported statement "${word}"` : 'empty statement');
    }
  }
  flush();
  if (stack.length > 1) {
    const open = stack[stack.length - 1]!;
    throw syntaxError(text, open.pos, `${open.kind} block is never closed with {% end %}`);
  }
  return { text, isTemplate: true, nodes: root.body };
}

/** The body currently receiving nodes for a block (last elif/else of an if). */
function currentBody(b: Block): TNode[] {
  const node = b.node;
  if (node && node.k === 'if') return node.otherwise ?? node.bodies[node.bodies.length - 1]!;
  return b.body;
}

/** Offset of the ` in ` keyword of a for statement, or -1. */
function findIn(text: string, from: number, to: number): number {
  const re = /\sin\s/g;
  re.lastIndex = from;
  const m = re.exec(text);
  return m && m.index < to ? m.index + 1 : -1;
}

/** Parses the expression in text[start, end). */
export function parseExpr(text: string, start: number, end: number): Expr {
  const p = new ExprParser(text, tokenize(text, start, end));
  const e = p.expression();
  const t = p.peek();
  if (t.t !== 'end') throw syntaxError(text, t.pos, `unexpected ${JSON.stringify(t.v)}`);
  return e;
}

const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** Recursive-descent parser with Python precedence. */
class ExprParser {
  private i = 0;
  private depth = 0;
  constructor(private readonly text: string, private readonly toks: Token[]) {}

  peek(): Token { return this.toks[this.i]!; }
  private next(): Token { return this.toks[this.i++]!; }
  private isOp(v: string): boolean { const t = this.peek(); return t.t === 'op' && t.v === v; }
  private isWord(v: string): boolean { const t = this.peek(); return t.t === 'name' && t.v === v; }
  private expect(v: string): Token {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw syntaxError(this.text, t.pos, t.t === 'end' ? `expected "${v}" before the end of the expression` : `expected "${v}", found ${JSON.stringify(t.v)}`);
    return t;
  }
  private enter(pos: number): void {
    if (++this.depth > MAX_DEPTH) throw syntaxError(this.text, pos, 'expression nested too deeply');
  }

  /** expression := or_expr ['if' or_expr 'else' expression] */
  expression(): Expr {
    const pos = this.peek().pos;
    this.enter(pos);
    const a = this.orExpr();
    let r = a;
    if (this.isWord('if')) {
      this.next();
      const test = this.orExpr();
      if (!this.isWord('else')) throw syntaxError(this.text, this.peek().pos, 'expected else');
      this.next();
      r = { k: 'cond', test, a, b: this.expression(), pos };
    }
    this.depth--;
    return r;
  }
  private orExpr(): Expr {
    let l = this.andExpr();
    while (this.isWord('or')) { const pos = this.next().pos; l = { k: 'or', l, r: this.andExpr(), pos }; }
    return l;
  }
  private andExpr(): Expr {
    let l = this.notExpr();
    while (this.isWord('and')) { const pos = this.next().pos; l = { k: 'and', l, r: this.notExpr(), pos }; }
    return l;
  }
  private notExpr(): Expr {
    if (this.isWord('not')) {
      const pos = this.next().pos;
      this.enter(pos);
      const e: Expr = { k: 'un', op: 'not', e: this.notExpr(), pos };
      this.depth--;
      return e;
    }
    return this.comparison();
  }
  private comparison(): Expr {
    const first = this.sum();
    const ops: string[] = [];
    const operands: Expr[] = [first];
    for (;;) {
      const t = this.peek();
      let op: string | null = null;
      if (t.t === 'op' && CMP.has(t.v)) { this.next(); op = t.v; }
      else if (t.t === 'name' && t.v === 'in') { this.next(); op = 'in'; }
      else if (t.t === 'name' && t.v === 'not' && this.toks[this.i + 1]?.t === 'name' && this.toks[this.i + 1]?.v === 'in') { this.i += 2; op = 'not in'; }
      else if (t.t === 'name' && t.v === 'is') {
        this.next();
        if (this.isWord('not')) { this.next(); op = 'is not'; } else op = 'is';
      }
      if (!op) break;
      ops.push(op);
      operands.push(this.sum());
    }
    return ops.length ? { k: 'cmp', ops, operands, pos: first.pos } : first;
  }
  private sum(): Expr {
    let l = this.term();
    while (this.isOp('+') || this.isOp('-')) { const t = this.next(); l = { k: 'bin', op: t.v, l, r: this.term(), pos: t.pos }; }
    return l;
  }
  private term(): Expr {
    let l = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) { const t = this.next(); l = { k: 'bin', op: t.v, l, r: this.unary(), pos: t.pos }; }
    return l;
  }
  private unary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next();
      this.enter(t.pos);
      const e = this.unary();
      this.depth--;
      if (t.v === '-' && e.k === 'lit' && (typeof e.v === 'number' || typeof e.v === 'bigint')) return { k: 'lit', v: -e.v, pos: t.pos };
      return { k: 'un', op: t.v as '-' | '+', e, pos: t.pos };
    }
    return this.power();
  }
  private power(): Expr {
    const base = this.postfix();
    if (this.isOp('**')) { const t = this.next(); return { k: 'bin', op: '**', l: base, r: this.unary(), pos: t.pos }; }
    return base;
  }
  private postfix(): Expr {
    let e = this.atom();
    for (;;) {
      if (this.isOp('(')) {
        const pos = this.next().pos;
        const args: Expr[] = [];
        const kw: Array<[string, Expr]> = [];
        while (!this.isOp(')')) {
          const t = this.peek();
          const n1 = this.toks[this.i + 1];
          if (t.t === 'name' && n1 && n1.t === 'op' && n1.v === '=') {
            this.i += 2;
            kw.push([t.v, this.expression()]);
          } else {
            if (kw.length) throw syntaxError(this.text, t.pos, 'positional argument after keyword argument');
            args.push(this.expression());
          }
          if (!this.isOp(',')) break;
          this.next();
        }
        this.expect(')');
        e = { k: 'call', callee: e, args, kw, pos };
      } else if (this.isOp('[')) {
        const pos = this.next().pos;
        let lo: Expr | null = null;
        if (!this.isOp(':')) lo = this.expression();
        if (this.isOp(':')) {
          this.next();
          const hi = this.isOp(']') ? null : this.expression();
          this.expect(']');
          e = { k: 'slice', obj: e, lo, hi, pos };
        } else {
          this.expect(']');
          e = { k: 'index', obj: e, idx: lo!, pos };
        }
      } else if (this.isOp('.')) {
        this.next();
        const t = this.next();
        if (t.t !== 'name') throw syntaxError(this.text, t.pos, 'expected an attribute name');
        if (t.v.startsWith('_')) throw syntaxError(this.text, t.pos, `attribute ${t.v} is not allowed`);
        e = { k: 'attr', obj: e, name: t.v, pos: t.pos };
      } else return e;
    }
  }
  private atom(): Expr {
    const t = this.next();
    switch (t.t) {
      case 'num': return { k: 'lit', v: t.n!, pos: t.pos };
      case 'str': {
        let v = t.v;
        while (this.peek().t === 'str') v += this.next().v; // implicit concatenation
        return { k: 'lit', v, pos: t.pos };
      }
      case 'name':
        switch (t.v) {
          case 'True': case 'true': return { k: 'lit', v: true, pos: t.pos };
          case 'False': case 'false': return { k: 'lit', v: false, pos: t.pos };
          case 'None': return { k: 'lit', v: null, pos: t.pos };
          case 'and': case 'or': case 'not': case 'in': case 'is': case 'if': case 'else': case 'lambda': case 'import':
            throw syntaxError(this.text, t.pos, `unexpected keyword ${t.v}`);
        }
        if (t.v.startsWith('__')) throw syntaxError(this.text, t.pos, `name ${t.v} is not allowed`);
        return { k: 'name', n: t.v, pos: t.pos };
      case 'op': {
        this.enter(t.pos);
        let r: Expr;
        if (t.v === '(') {
          if (this.isOp(')')) { this.next(); r = { k: 'tuple', items: [], pos: t.pos }; }
          else {
            const first = this.expression();
            if (this.isOp(',')) {
              const items = [first];
              while (this.isOp(',')) { this.next(); if (this.isOp(')')) break; items.push(this.expression()); }
              r = { k: 'tuple', items, pos: t.pos };
            } else r = first;
            this.expect(')');
          }
        } else if (t.v === '[') {
          const items: Expr[] = [];
          while (!this.isOp(']')) { items.push(this.expression()); if (!this.isOp(',')) break; this.next(); }
          this.expect(']');
          r = { k: 'list', items, pos: t.pos };
        } else if (t.v === '{') {
          const keys: Expr[] = [];
          const vals: Expr[] = [];
          while (!this.isOp('}')) {
            keys.push(this.expression());
            this.expect(':');
            vals.push(this.expression());
            if (!this.isOp(',')) break;
            this.next();
          }
          this.expect('}');
          r = { k: 'dict', keys, vals, pos: t.pos };
        } else throw syntaxError(this.text, t.pos, `unexpected ${JSON.stringify(t.v)}`);
        this.depth--;
        return r;
      }
      case 'end':
        throw syntaxError(this.text, t.pos, 'unexpected end of expression');
    }
  }
}
