/**
 * The operator API under /v0/admin (the operator token, or an operator's SSO session
 * with its operator scopes; workspace tokens and sessions never pass here), and the per-request tenancy middleware: it runs the rest of the request
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
import { operatorFromSession, operatorMay, scopeFor, verifyOperatorToken, type OperatorAction, type OperatorContext } from '../tenancy/operator.js';
import { OPERATORS, checkCsrf, readSession } from '../auth/sso/session.js';
import { log } from '../ops/log.js';
import { addTenant, describeTenant, listTenantViews, removeTenant, requireTenant, updateTenant } from '../tenancy/service.js';
import { requestScope } from '../tenancy/request-scope.js';
import { LimitError, RateCounter } from '../clickhouse/limits.js';

/**
 * The operator API and the tenancy scope middleware, mounted once in app.ts after the
 * auth gate: `/v0/admin` with its prefix, the scope middleware for every request. (A
 * router that handles nothing is left through a setImmediate hop; mounted this way,
 * workspace requests never pay it.)
 */
export function tenancyHandlers(services: Services): { admin: Router; scope: RequestHandler } {
  return { admin: adminRouter(services), scope: scopeMiddleware(services) };
}

const operators = new WeakMap<Request, OperatorContext>();

/** The operator behind an admin request. */
export function operatorOf(req: Request): OperatorContext {
  const op = operators.get(req);
  if (op === undefined) throw unauthorized('Operator authentication required');
  return op;
}

/**
 * The operator token (Bearer), or an operator session cookie (SSO through the
 * operators' own IdP; CSRF header on state-changing calls). Workspace tokens and
 * workspace sessions never pass.
 */
function requireOperator(services: Services, action: OperatorAction): RequestHandler {
  return (req, _res, next) => {
    let op: OperatorContext | undefined;
    try {
      op = resolveOperator(services, req);
    } catch (err) {
      next(err);
      return;
    }
    if (!operatorMay(op.scopes, action)) {
      next(forbidden(`Forbidden: operator '${op.subject.slice(0, 100)}' needs the ${scopeFor(action)} scope`));
      return;
    }
    operators.set(req, op);
    if (action !== 'read') log('info', 'operator action', { operator: op.subject, via: op.via, method: req.method, path: req.path.slice(0, 200) });
    next();
  };
}

function resolveOperator(services: Services, req: Request): OperatorContext {
  const presented = presentedToken(req);
  if (presented === undefined) {
    const session = readSession(services.store, req);
    if (session === undefined) throw unauthorized('Operator authentication required: pass the operator token as "Authorization: Bearer <token>", or sign in at /auth/_operators/login');
    if (session.ten !== OPERATORS) throw unauthorized('Operator authentication required: workspace sessions are not accepted on /v0/admin');
    checkCsrf(req, session);
    return operatorFromSession(session.email ?? session.sub, session.grants);
  }
  if (presented === '') throw unauthorized('Operator authentication required: pass the operator token as "Authorization: Bearer <token>"');
  const op = verifyOperatorToken(services.store, presented);
  if (op === undefined) throw unauthorized('Invalid operator token (workspace tokens are not accepted on /v0/admin)');
  return op;
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
  const read = requireOperator(services, 'read');
  const write = requireOperator(services, 'write');
  const remove = requireOperator(services, 'remove');
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
  router.delete('/tenants/:slug', remove, async (req, res) => {
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
