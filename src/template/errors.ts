/**
 * Errors raised by the template engine. Every failure (bad parameter value,
 * missing required parameter, syntax problem, runaway template, `error()` and
 * `custom_error()` called by the template) is a TemplateError, which the HTTP
 * layer turns into a response with `status` (400 unless the template chose
 * another code through `error(msg, code)` / `custom_error(obj, code)`).
 */
export class TemplateError extends Error {
  /** HTTP status: 400 for anything caused by the request or the template, or the code given to error()/custom_error(). */
  readonly status: number;
  /** The parameter at fault, when there is one. */
  readonly param?: string;
  /** For custom_error({...}): the object the template wants as the response body. */
  readonly body?: Record<string, unknown>;

  constructor(message: string, options?: { param?: string; status?: number; body?: Record<string, unknown> }) {
    super(message);
    this.name = 'TemplateError';
    this.status = options?.status ?? 400;
    if (options?.param !== undefined) this.param = options.param;
    if (options?.body !== undefined) this.body = options.body;
  }
}

/** Line and column (1-based) of an offset in a text. */
export function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}

/** A syntax error at an offset of the template text, with line/column in the message. */
export function syntaxError(text: string, offset: number, message: string): TemplateError {
  const { line, column } = lineCol(text, offset);
  return new TemplateError(`Template syntax error at line ${line}, column ${column}: ${message}`);
}
