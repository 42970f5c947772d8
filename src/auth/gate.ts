/**
 * The authentication gate, mounted before the API routers: resolves the presented
 * token once per request (verifying a JWT with jose when it is not cached), applies
 * the rate limits (per JWT name with `limits.rps`, per workspace with
 * `auth.workspaceRps`), and leaves the result for `authenticate(store, req)`.
 * Requests without a token pass through untouched (the routers answer 401 if they
 * need one).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Services } from '../server/services.js';
import { HttpError } from '../server/errors.js';
import { log } from '../ops/log.js';
import { markResolved, presentedToken, resolveTokenAsync, resolveTokenSync, type AuthContext } from './context.js';
import { configureAuth, type AuthRuntime } from './runtime.js';
import type { RateDecision } from './ratelimit.js';

const WINDOW_MS = 1000;

export function authGate(services: Services): RequestHandler {
  const rt = configureAuth(services.store, { dataDir: services.config.dataDir, auth: services.config.auth });
  return (req: Request, res: Response, next: NextFunction): void => {
    const now = Date.now();
    if (rt.maintainDue(now)) rt.maintain(now).catch((err: unknown) => log('error', 'auth: key rotation failed', { error: err }));
    const presented = presentedToken(req);
    if (presented === undefined) {
      next();
      return;
    }
    // Static tokens and already-verified JWTs resolve synchronously: no promise per request.
    let ctx: AuthContext | undefined;
    try {
      ctx = resolveTokenSync(rt, presented, now);
    } catch (err) {
      if (err instanceof HttpError) {
        markResolved(req, err);
        next();
      } else next(err);
      return;
    }
    if (ctx !== undefined) {
      markResolved(req, ctx);
      if (!hasRateLimits(rt, ctx)) {
        next();
        return;
      }
      applyRateLimits(rt, ctx, res, now).then(() => next(), next);
      return;
    }
    resolveTokenAsync(rt, presented, now).then(
      async (resolved) => {
        markResolved(req, resolved);
        await applyRateLimits(rt, resolved, res, now);
        next();
      },
      (err: unknown) => {
        if (err instanceof HttpError) {
          markResolved(req, err);
          next();
        } else next(err);
      },
    ).catch(next);
  };
}

/** True when a request of `ctx` is counted by a rate limit (see applyRateLimits). */
function hasRateLimits(rt: AuthRuntime, ctx: AuthContext): boolean {
  return ctx.limits?.rps !== undefined || rt.settings.auth.workspaceRps > 0;
}

/** Count the request; set X-RateLimit-* headers; throw 429 with Retry-After when over a limit. */
export async function applyRateLimits(rt: AuthRuntime, ctx: AuthContext, res: Response, now: number): Promise<void> {
  const decisions: RateDecision[] = [];
  const rps = ctx.limits?.rps;
  if (rps !== undefined) decisions.push(await rt.limiter.hit(`jwt:${ctx.workspace.id}:${ctx.token.name}`, rps, WINDOW_MS, now));
  const wsRps = rt.settings.auth.workspaceRps;
  if (wsRps > 0) decisions.push(await rt.limiter.hit(`ws:${ctx.workspace.id}`, wsRps, WINDOW_MS, now));
  if (decisions.length === 0) return;
  const refused = decisions.find((d) => !d.allowed);
  const shown = refused ?? decisions.reduce((a, b) => (b.remaining < a.remaining ? b : a));
  const resetSeconds = Math.max(1, Math.ceil(shown.resetMs / 1000));
  const headers: Record<string, string> = {
    'X-RateLimit-Limit': String(shown.limit),
    'X-RateLimit-Remaining': String(shown.remaining),
    'X-RateLimit-Reset': String(resetSeconds),
  };
  if (refused !== undefined) {
    const which = rps !== undefined && refused === decisions[0] ? `token '${ctx.token.name}'` : 'workspace';
    throw new HttpError(429, `Too many requests: the ${which} rate limit is ${refused.limit} requests per second`, { ...headers, 'Retry-After': String(resetSeconds) });
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
}
