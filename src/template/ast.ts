/** AST of parsed templates: template nodes and expressions. `pos` is an offset in the original text. */
import type { Value } from './values.js';

/** An expression of the template language (a small, safe subset of Python). */
export type Expr =
  | { k: 'lit'; v: Value; pos: number }
  | { k: 'name'; n: string; pos: number }
  | { k: 'list'; items: Expr[]; pos: number }
  | { k: 'tuple'; items: Expr[]; pos: number }
  | { k: 'dict'; keys: Expr[]; vals: Expr[]; pos: number }
  | { k: 'call'; callee: Expr; args: Expr[]; kw: Array<[string, Expr]>; pos: number }
  | { k: 'attr'; obj: Expr; name: string; pos: number }
  | { k: 'index'; obj: Expr; idx: Expr; pos: number }
  | { k: 'slice'; obj: Expr; lo: Expr | null; hi: Expr | null; pos: number }
  | { k: 'un'; op: 'not' | '-' | '+'; e: Expr; pos: number }
  | { k: 'bin'; op: string; l: Expr; r: Expr; pos: number }
  | { k: 'cmp'; ops: string[]; operands: Expr[]; pos: number }
  | { k: 'and' | 'or'; l: Expr; r: Expr; pos: number }
  | { k: 'cond'; test: Expr; a: Expr; b: Expr; pos: number };

/** A node of a template body. */
export type TNode =
  | { k: 'text'; s: string }
  | { k: 'out'; e: Expr; src: string; pos: number }
  | { k: 'if'; conds: Expr[]; bodies: TNode[][]; otherwise: TNode[] | null; pos: number }
  | { k: 'for'; targets: string[]; iter: Expr; body: TNode[]; pos: number }
  | { k: 'set'; target: string; e: Expr; pos: number };

/** A parsed template. */
export interface ParsedTemplate {
  /** The original text (for error positions). */
  text: string;
  /** True when the first non-empty line is `%`. */
  isTemplate: boolean;
  /** Body nodes (empty for non-templates). */
  nodes: TNode[];
}
