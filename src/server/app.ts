/**
 * The Express application: security headers, request ids, the API routers, and one
 * error handler that turns every failure into `{"error": "..."}` with the right
 * status. Nothing here knows about a particular endpoint.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { randomUUID } from 'node:crypto';
import { HostQueryError, HostUnavailableError } from '../clickhouse/host.js';
import { log } from '../ops/log.js';
import { HttpError } from './errors.js';
import type { Services } from './services.js';
import { healthRouter } from '../api/health.js';
import { datasourcesRouter } from '../api/datasources.js';
import { eventsRouter } from '../api/events.js';
import { tokensRouter } from '../api/tokens.js';
import { sqlRouter } from '../api/sql.js';
import { authRouter } from '../api/auth.js';
import { authGate } from '../auth/gate.js';
import { workspaceRouter } from '../api/workspace.js';
import { jwksRouter } from '../api/jwks.js';
import { pipesRouter } from '../api/pipes.js';
import { tenancyHandlers } from '../api/admin.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function createApp(services: Services): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders());
  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  });
  app.use(onlyItsPaths(healthRouter(services)));
  app.use(onlyItsPaths(jwksRouter(services)));
  app.use(authGate(services));
  const tenancy = tenancyHandlers(services);
  app.use('/v0/admin', tenancy.admin);
  app.use(tenancy.scope);
  // First of the prefixed routers (their prefixes do not overlap): the endpoint path
  // matches no other router on its way.
  app.use('/v0/pipes', pipesRouter(services));
  app.use('/v0/datasources', datasourcesRouter(services));
  app.use('/v0/events', eventsRouter(services));
  app.use('/v0/tokens', tokensRouter(services));
  app.use('/v0/sql', sqlRouter(services));
  app.use('/auth', authRouter(services));
  app.use('/v0/workspace', workspaceRouter(services));
  app.use((req, _res, next) => next(new HttpError(404, `Not found: ${req.method} ${req.path.slice(0, 200)}`)));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(err, req, res);
  });
  return app;
}

/**
 * `router`, entered only for the paths of its routes: a router that matches nothing is
 * left through a setImmediate hop (router 2.x), which every other request would pay.
 * Paths compare as the router does (case-insensitive, one optional trailing slash).
 * Returns the router itself unless every layer is a route with a plain path.
 */
export function onlyItsPaths(router: express.Router): RequestHandler {
  const paths = new Set<string>();
  for (const layer of router.stack as Array<{ route?: { path?: unknown } }>) {
    const p = layer.route?.path;
    if (typeof p !== 'string' || !/^\/[A-Za-z0-9._\/-]*$/.test(p)) return router;
    paths.add(p.toLowerCase());
  }
  return (req, res, next) => {
    const p = req.path.toLowerCase();
    if (paths.has(p) || (p.length > 1 && p.endsWith('/') && paths.has(p.slice(0, -1)))) router(req, res, next);
    else next();
  };
}

/**
 * helmet's security headers, computed once: with a fixed configuration it sets the same
 * headers on every response, so one middleware sets them from a list (helmet runs
 * thirteen middlewares per request). Falls back to helmet itself if its probe run does
 * anything but set string headers and remove headers, synchronously.
 */
export function securityHeaders(): RequestHandler {
  const middleware = helmet();
  const set: [string, string][] = [];
  const removed: string[] = [];
  let plain = true;
  let passed = false;
  const probe = {
    setHeader(name: string, value: unknown): void {
      if (typeof value === 'string') set.push([name, value]);
      else plain = false;
    },
    removeHeader(name: string): void {
      removed.push(name);
    },
  };
  try {
    middleware({ headers: {}, method: 'GET', url: '/' } as Request, probe as unknown as Response, (err?: unknown) => {
      passed = err === undefined;
    });
  } catch {
    plain = false;
  }
  if (!plain || !passed || set.length === 0) return middleware;
  return (_req, res, next) => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of removed) res.removeHeader(name);
    next();
  };
}

/** Write an error response (or end the response if headers already went out). */
export function sendError(err: unknown, req: Request, res: Response): void {
  let status = 500;
  let message = 'Internal server error';
  let headers: Record<string, string> = {};
  if (err instanceof HttpError) {
    status = err.status;
    message = err.message;
    headers = err.headers;
  } else if (err instanceof HostUnavailableError) {
    status = 503;
    message = `The workspace's ClickHouse host is unavailable: ${err.message}`;
    headers = { 'Retry-After': String(Math.max(1, Math.ceil(err.retryAfterSeconds))) };
  } else if (err instanceof HostQueryError) {
    status = 400;
    message = err.message;
  } else if (isBodyParserError(err)) {
    status = err.status;
    message = err.type === 'entity.too.large' ? 'Request body too large' : `Invalid request body: ${err.message}`;
  }
  if (status >= 500) log('error', 'request failed', { requestId: res.locals.requestId, method: req.method, path: req.path, status, error: err });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  // A request refused before its body was read (413, early 4xx): close the connection
  // so unread body bytes are never taken for the next request on it.
  if (!req.complete) res.setHeader('Connection', 'close');
  res.status(status).json({ error: message });
}

function isBodyParserError(err: unknown): err is { status: number; type: string; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number' && typeof (err as { type?: unknown }).type === 'string';
}
