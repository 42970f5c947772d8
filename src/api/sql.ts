/**
 * Query API (Tinybird v0): `GET|POST /v0/sql` with `q` (query string or form body) or
 * the query as a text body. The answer is ClickHouse's JSON shape (`meta`, `data`,
 * `rows`, `rows_before_limit_at_least`, `statistics`) or the query's FORMAT.
 */
import { Router, type Request } from 'express';
import { randomUUID } from 'node:crypto';
import type { Services } from '../server/services.js';
import { authenticate } from '../auth/context.js';
import { readBody } from '../server/body.js';
import { compileSqlQuery, MAX_SQL_LENGTH } from '../catalog/sql-query.js';
import { readSettings, streamQuery } from './respond.js';
import { Params, isForm } from './params.js';
import { isTemplate, renderTemplate, TemplateError } from '../template/index.js';
import { HttpError } from '../server/errors.js';

/** A templated query (`%` first line) rendered with the query-string parameters. */
function renderSqlTemplate(sql: string, req: Request): string {
  const values: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [k, v] of Object.entries(req.query)) {
    if (k === 'q' || k === 'token') continue;
    if (typeof v === 'string') values[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values[k] = v as string[];
  }
  try {
    return renderTemplate(sql, values).sql;
  } catch (err) {
    if (err instanceof TemplateError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

export function sqlRouter(services: Services): Router {
  const router = Router();
  const { store, hosts, config } = services;

  const handle = async (req: Request, res: import('express').Response): Promise<void> => {
    const ctx = authenticate(store, req);
    let sql: string | undefined;
    let form: URLSearchParams | undefined;
    if (req.method === 'POST') {
      const body = (await readBody(req, MAX_SQL_LENGTH + 1024)).toString('utf8');
      // A form body with `q` carries parameters; any other body is the query itself
      // (curl -d sends raw SQL as form-encoded, as Tinybird clients do).
      const parsed = isForm(req) ? new URLSearchParams(body) : undefined;
      if (parsed?.has('q') === true) form = parsed;
      else if (body.trim() !== '') sql = body;
    }
    const params = new Params(req, form);
    sql = params.get('q') ?? sql ?? '';
    if (isTemplate(sql)) sql = renderSqlTemplate(sql, req);
    const query = compileSqlQuery(store, ctx, sql, config.limits.maxExecutionTime);
    const host = hosts.hostFor(ctx.tenant);
    await streamQuery(res, host, query.sql, query.format, readSettings(config.limits, query.settings), randomUUID(), ctx.workspace.database);
  };

  router.get('/', handle);
  router.post('/', handle);
  return router;
}
