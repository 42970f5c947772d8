/**
 * API parameters, as Tinybird takes them: from the query string or from a
 * form-encoded body (the query string wins when both give one).
 */
import type { Request } from 'express';
import { badRequest } from '../server/errors.js';

export class Params {
  readonly #query: Request['query'];
  readonly #form: URLSearchParams | undefined;

  constructor(req: Request, form?: URLSearchParams) {
    this.#query = req.query;
    this.#form = form;
  }

  /** The last value given for `name`, or undefined. */
  get(name: string): string | undefined {
    const q = this.#query[name];
    if (typeof q === 'string') return q;
    if (Array.isArray(q)) {
      const last = q[q.length - 1];
      if (typeof last === 'string') return last;
    }
    return this.#form?.get(name) ?? undefined;
  }

  /** Every value given for `name` (repeated parameters), query string first. */
  all(name: string): string[] {
    const out: string[] = [];
    const q = this.#query[name];
    if (typeof q === 'string') out.push(q);
    else if (Array.isArray(q)) for (const v of q) if (typeof v === 'string') out.push(v);
    if (this.#form !== undefined) out.push(...this.#form.getAll(name));
    return out;
  }

  /** A required parameter; 400 naming it when missing or empty. */
  require(name: string): string {
    const v = this.get(name);
    if (v === undefined || v === '') throw badRequest(`Missing required parameter '${name}'`);
    return v;
  }

  /** A boolean parameter ('true'/'false'/'1'/'0'); 400 on anything else. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.get(name);
    if (v === undefined || v === '') return fallback;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw badRequest(`Invalid value for parameter '${name}': expected true or false`);
  }
}

/** True when the request body is form-encoded. */
export function isForm(req: Request): boolean {
  return String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}
