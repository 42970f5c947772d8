/**
 * The operator API under /v0/admin (operator token only; workspace tokens never pass
 * here), and the per-request tenancy middleware: it runs the rest of the request
 * with the authenticated tenant/workspace as its scope (for workspace limits), counts
 * requests and errors per tenant, and applies the insert rate limits.
 *
 *   GET    /v0/admin/tenants               tenants with host health, queue depth, error rates
 *   POST   /v0/admin/tenants               add (JSON body as in the config file); provisions
 *   GET    /v0/admin/tenants/<slug>
 *   PATCH  /v0/admin/tenants/<slug>        name, emailDomains, sso, limits, host, workspaces (add)
 *   DELETE /v0/admin/tenants/<slug>?confirm=<slug>   deprovision and remove
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Services } from '../server/services.js';
import { HttpError, badRequest, forbidden, unauthorized } from '../server/errors.js';
import { readBody } from '../server/body.js';
import { authenticate, presentedToken } from '../auth/context.js';
import { verifyOperatorToken, type OperatorContext, type OperatorScope } from '../tenancy/operator.js';
import { addTenant, describeTenant, listTenantViews, removeTenant, requireTenant, updateTenant } from '../tenancy/service.js';
import { requestScope } from '../tenancy/request-scope.js';
import { LimitError, RateCounter } from '../clickhouse/limits.js';

/** Mounted once in app.ts, after the auth gate. */
export function tenancyRouter(services: Services): Router {
  const router = Router();
  router.use('/v0/admin', adminRouter(services));
  router.use(scopeMiddleware(services));
  return router;
}

const operators = new WeakMap<Request, OperatorContext>();

/** The operator behind an admin request. */
export function operatorOf(req: Request): OperatorContext {
  const op = operators.get(req);
  if (op === undefined) throw unauthorized('Operator authentication required');
  return op;
}

function requireOperator(services: Services, scope: OperatorScope): RequestHandler {
  return (req, _res, next) => {
    const presented = presentedToken(req);
    if (presented === undefined || presented === '') {
      next(unauthorized('Operator authentication required: pass the operator token as "Authorization: Bearer <token>"'));
      return;
    }
    const op = verifyOperatorToken(services.store, presented);
    if (op === undefined) {
      next(unauthorized('Invalid operator token (workspace tokens are not accepted on /v0/admin)'));
      return;
    }
    if (!op.scopes.includes(scope)) {
      next(forbidden(`Forbidden: the operator needs the ${scope} scope`));
      return;
    }
    operators.set(req, op);
    next();
  };
}

async function jsonBody(req: Request, services: Services): Promise<unknown> {
  const text = (await readBody(req, services.config.maxFormBytes)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('Invalid JSON body');
  }
}

function adminRouter(services: Services): Router {
  const router = Router();
  const read = requireOperator(services, 'tenants:read');
  const write = requireOperator(services, 'tenants:write');
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.get('/tenants', read, (_req, res) => {
    res.json({ tenants: listTenantViews(services) });
  });
  router.post('/tenants', write, async (req, res) => {
    const { tenant, tokens } = await addTenant(services, await jsonBody(req, services));
    res.status(201).json({ tenant: describeTenant(services, tenant), tokens });
  });
  router.get('/tenants/:slug', read, (req, res) => {
    res.json(describeTenant(services, requireTenant(services, String(req.params.slug))));
  });
  router.patch('/tenants/:slug', write, async (req, res) => {
    const { tenant, tokens } = await updateTenant(services, String(req.params.slug), await jsonBody(req, services));
    res.json({ tenant: describeTenant(services, tenant), tokens });
  });
  router.delete('/tenants/:slug', write, async (req, res) => {
    const confirm = typeof req.query.confirm === 'string' ? req.query.confirm : undefined;
    await removeTenant(services, String(req.params.slug), confirm);
    res.status(204).end();
  });
  router.use((req, _res, next) => next(new HttpError(404, `Not found: ${req.method} /v0/admin${req.path.slice(0, 200)}`)));
  return router;
}

/** Insert requests: the Events API and Data Sources appends/replaces. */
function isInsert(req: Request): boolean {
  if (req.method !== 'POST') return false;
  if (req.path.startsWith('/v0/events')) return true;
  return req.path === '/v0/datasources' && (req.query.mode === 'append' || req.query.mode === 'replace');
}

function scopeMiddleware(services: Services): RequestHandler {
  const counters = new Map<string, RateCounter>();
  const counter = (key: string, what: string, perSecond: number): RateCounter => {
    let c = counters.get(key);
    if (c === undefined) {
      c = new RateCounter(what, perSecond);
      counters.set(key, c);
    }
    c.perSecond = perSecond;
    return c;
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    if (presentedToken(req) === undefined) {
      next();
      return;
    }
    let ctx;
    try {
      ctx = authenticate(services.store, req);
    } catch {
      next(); // the routers answer 401/403
      return;
    }
    try {
      const host = services.hosts.hostFor(ctx.tenant);
      const ws = ctx.workspace.name;
      res.once('finish', () => host.errors.record(res.statusCode < 500));
      if (isInsert(req)) {
        const now = Date.now();
        const tl = host.limits;
        const wl = host.limitsFor(ws);
        counter(ctx.tenant.slug, `tenant '${ctx.tenant.slug}'`, tl.insertsPerSecond).take(now);
        if (wl.insertsPerSecond !== tl.insertsPerSecond) counter(`${ctx.tenant.slug}/${ws}`, `workspace '${ws}'`, wl.insertsPerSecond).take(now);
      }
      requestScope.run({ tenant: ctx.tenant.slug, workspace: ws }, next);
    } catch (err) {
      if (err instanceof LimitError) next(new HttpError(err.status, err.message, { 'Retry-After': String(err.retryAfterSeconds) }));
      else next(err);
    }
  };
}
