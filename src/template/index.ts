/**
 * Colibri's implementation of Tinybird's template language (Tornado-style
 * `%` templates) for pipe nodes and the Query API. Templates are parsed once
 * into an AST (LRU-cached by text) and rendered by a small safe interpreter:
 * request values reach SQL only as typed, escaped literals or validated,
 * quoted identifiers. See docs/pipes.md, "Template language".
 */
import type { ParsedTemplate } from './ast.js';
import { TemplateError } from './errors.js';
import { collectParams, type TemplateParam } from './params.js';
import { parseTemplate, templateBodyStart } from './parser.js';
import { DEFAULT_MAX_OUTPUT, renderParsed, type ParamValues } from './render.js';

export { TemplateError } from './errors.js';
export type { TemplateParam } from './params.js';
export type { ParamValues } from './render.js';
export { MAX_VALUE_LENGTH, MAX_ARRAY_ELEMENTS } from './types.js';
export { MAX_STEPS, DEFAULT_MAX_OUTPUT } from './render.js';
export { quoteString } from './values.js';

/** Result of renderTemplate. */
export interface RenderResult {
  /** The rendered SQL, without the `%` line. */
  sql: string;
  /** Names of the request parameters the template read, in order of first use. */
  used: string[];
}

/** Most templates kept parsed. */
export const CACHE_SIZE = 2000;

interface Entry { tpl: ParsedTemplate; params?: TemplateParam[]; error?: TemplateError }
const cache = new Map<string, Entry>();

/** The cached parse of a text (an LRU keyed by the text); syntax errors are cached too. */
function entry(sql: string): Entry {
  let e = cache.get(sql);
  if (e) {
    if (cache.size > 64) { cache.delete(sql); cache.set(sql, e); }
    return e;
  }
  try {
    e = { tpl: parseTemplate(sql) };
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    e = { tpl: { text: sql, isTemplate: true, nodes: [] }, error: err };
  }
  cache.set(sql, e);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return e;
}

/** True when the first non-empty line of the text is `%`. */
export function isTemplate(sql: string): boolean {
  return templateBodyStart(sql) >= 0;
}

/** The parameters found statically in a template (deduplicated, in order); [] for plain SQL. Throws on syntax errors. */
export function templateParams(sql: string): TemplateParam[] {
  if (!isTemplate(sql)) return [];
  const e = entry(sql);
  if (e.error) throw e.error;
  e.params ??= collectParams(e.tpl.nodes);
  return e.params.map((p) => ({ ...p, ...(p.enum ? { enum: [...p.enum] } : {}) }));
}

/** Checks a template's syntax; throws a TemplateError with line/column. */
export function checkTemplate(sql: string): void {
  if (!isTemplate(sql)) return;
  const e = entry(sql);
  if (e.error) throw e.error;
}

/**
 * Renders a template with request parameter values. Non-template SQL is
 * returned unchanged. Throws TemplateError (status 400, or the template's
 * own status for error()/custom_error()).
 */
export function renderTemplate(sql: string, values: ParamValues, options?: { maxOutputLength?: number }): RenderResult {
  if (!isTemplate(sql)) return { sql, used: [] };
  const e = entry(sql);
  if (e.error) throw e.error;
  return renderParsed(e.tpl, values, options?.maxOutputLength ?? DEFAULT_MAX_OUTPUT);
}
