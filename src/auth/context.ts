/**
 * Resolving a request to who is calling, and checking what they may do.
 * A token is accepted as `Authorization: Bearer <token>` or `?token=<token>`:
 * a static token (`p.<routing>.<secret>`) or a JWT (see jwt.ts).
 *
 * `authenticate(store, req)` is synchronous: the gate (gate.ts), mounted before the
 * API routers, has already verified any JWT (asynchronously, with jose) and applied
 * rate limits; `authenticate` returns what the gate resolved for this request.
 * Without the gate (in-process callers), static tokens and already-verified JWTs
 * (the cache) still resolve.
 */
import { createHash, hash } from 'node:crypto';
import type { Request } from 'express';
import type { StateStore } from '../state/store.js';
import { HttpError, forbidden, unauthorized } from '../server/errors.js';
import { getTenant, getWorkspace, type TenantRecord, type WorkspaceRecord } from '../tenancy/model.js';
import type { Scope, ResourceScopeType, GlobalScopeType } from './scopes.js';
import { MAX_STATIC_TOKEN_LENGTH, verifyStaticToken, type TokenRecord } from './tokens.js';
import { LruCache } from '../compiler/lru.js';
import { looksLikeJwt, verifyJwt, type FixedParam } from './jwt.js';
import { authRuntime, type AuthRuntime } from './runtime.js';
import { sessionContext } from './sso/session.js';
import { ssoKeyId, ssoTokenTenant, verifyWorkspaceToken } from './sso/workspace-token.js';
import { parseScope } from './scopes.js';

/** The token behind a request, without anything secret. */
export interface TokenIdentity {
  /** Static token id, or `jwt:<hash prefix>` for a JWT. */
  id: string;
  /** Static token name, or the JWT's `name` claim. */
  name: string;
  /** Absent for contexts built elsewhere (SSO sessions). */
  kind?: 'static' | 'jwt' | 'session';
  /** 'admin' for the workspace admin token. */
  origin: 'admin' | 'user' | 'jwt';
}

export interface AuthContext {
  tenant: TenantRecord;
  workspace: WorkspaceRecord;
  token: TokenIdentity;
  scopes: readonly Scope[];
  isAdmin: boolean;
  /** Per pipe (name): parameters fixed by the token, which the caller cannot override (use `fixedParamsFor`). */
  fixedParams?: Readonly<Record<string, Readonly<Record<string, FixedParam>>>>;
  /** Per-token limits (JWT `limits.rps`). */
  limits?: Readonly<{ rps?: number }>;
}

const NO_FIXED: Readonly<Record<string, Readonly<Record<string, FixedParam>>>> = Object.freeze({});
const NO_LIMITS: Readonly<{ rps?: number }> = Object.freeze({});

/** The token a request presents: undefined when none, '' when the header is malformed. */
export function presentedToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && header !== '') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m === null ? '' : m[1];
  }
  const q = req.query.token;
  if (typeof q === 'string') return q;
  return undefined;
}

const resolved = new WeakMap<object, AuthContext | HttpError>();

/** The gate records what a request's token resolved to (or the error to answer). */
export function markResolved(req: Request, result: AuthContext | HttpError): void {
  resolved.set(req, result);
}

const MISSING = 'Authentication required: pass a token as "Authorization: Bearer <token>" or "?token=<token>"';

/** Resolve the caller; throws 401 when there is no valid token (403 for an expired JWT). */
export function authenticate(store: StateStore, req: Request): AuthContext {
  const r = resolved.get(req);
  if (r !== undefined) {
    if (r instanceof HttpError) throw r;
    return r;
  }
  const presented = presentedToken(req);
  if (presented === undefined) {
    // No token: a signed-in person's session cookie (SSO), if any.
    const session = sessionContext(store, req);
    if (session !== undefined) return session;
    throw unauthorized(MISSING);
  }
  return resolveToken(store, presented, Date.now());
}

/** Synchronous resolution: a static token, or a JWT already verified (cache). */
export function resolveToken(store: StateStore, presented: string, now: number): AuthContext {
  if (presented === '') throw unauthorized('Invalid token');
  if (presented.startsWith('p.')) return staticContext(store, presented);
  const rt = authRuntime(store);
  const hit = rt === undefined ? undefined : cachedJwt(rt, presented, now);
  if (hit === undefined) throw unauthorized('Invalid token');
  return hit;
}

/**
 * What resolves without waiting: a static token (or a malformed one: throws), or a
 * JWT already verified (cache). Undefined when the token needs `resolveTokenAsync`.
 */
export function resolveTokenSync(rt: AuthRuntime, presented: string, now: number): AuthContext | undefined {
  if (presented === '' || presented.startsWith('p.') || !looksLikeJwt(presented)) return resolveToken(rt.store, presented, now);
  return cachedJwt(rt, presented, now);
}

/** Full resolution, verifying a JWT (with jose) when it is not cached. */
export async function resolveTokenAsync(rt: AuthRuntime, presented: string, now: number): Promise<AuthContext> {
  if (presented === '' || presented.startsWith('p.') || !looksLikeJwt(presented)) return resolveToken(rt.store, presented, now);
  const hit = cachedJwt(rt, presented, now);
  if (hit !== undefined) return hit;
  const ssoTenant = ssoTokenTenant(presented);
  if (ssoTenant !== undefined) return resolveSsoToken(rt, presented, ssoTenant);
  const { grant, ref } = await verifyJwt(presented, rt.jwtKeys(), now);
  const workspace = getWorkspace(rt.store, grant.workspaceId);
  const tenant = workspace === undefined ? undefined : getTenant(rt.store, workspace.tenant);
  if (workspace === undefined || tenant === undefined) throw unauthorized('Invalid token');
  const ctx: AuthContext = {
    tenant,
    workspace,
    token: { id: `jwt:${createHash('sha256').update(presented).digest('hex').slice(0, 16)}`, name: grant.name, kind: 'jwt', origin: 'jwt' },
    scopes: Object.freeze(grant.scopes),
    isAdmin: false,
    fixedParams: Object.freeze(grant.fixedParams),
    limits: Object.freeze(grant.limits),
  };
  rt.jwtCache.set(presented, { ctx, expMs: grant.expMs, keyRef: ref });
  return ctx;
}

/**
 * A workspace token from SSO token exchange (`POST /auth/token`, `colibri login`):
 * signed by the tenant's SSO key, carrying a subset of the person's grants.
 */
async function resolveSsoToken(rt: AuthRuntime, presented: string, tenantSlug: string): Promise<AuthContext> {
  const claims = await verifyWorkspaceToken(rt.store, tenantSlug, presented);
  const kid = ssoKeyId(rt.store, tenantSlug);
  if (claims === undefined || kid === undefined) throw unauthorized('Invalid token');
  const workspace = getWorkspace(rt.store, claims.workspace_id);
  const tenant = workspace === undefined ? undefined : getTenant(rt.store, workspace.tenant);
  if (workspace === undefined || tenant === undefined || tenant.slug !== tenantSlug) throw unauthorized('Invalid token');
  let scopes: Scope[];
  try {
    scopes = claims.scopes.map((s) => parseScope(s));
  } catch {
    throw unauthorized('Invalid token');
  }
  const ctx: AuthContext = {
    tenant,
    workspace,
    token: { id: `sso:${createHash('sha256').update(presented).digest('hex').slice(0, 16)}`, name: `sso:${claims.sub}`, kind: 'jwt', origin: 'jwt' },
    scopes: Object.freeze(scopes),
    isAdmin: scopes.some((s) => s.type === 'ADMIN'),
    fixedParams: NO_FIXED,
    limits: NO_LIMITS,
  };
  rt.jwtCache.set(presented, { ctx, expMs: claims.exp * 1000, keyRef: { kind: 'sso', tenant: tenantSlug, kid } });
  return ctx;
}

function cachedJwt(rt: AuthRuntime, presented: string, now: number): AuthContext | undefined {
  const c = rt.jwtCache.get(presented);
  if (c === undefined) return undefined;
  if (now >= c.expMs) throw forbidden('Invalid token: the JWT has expired');
  if (!rt.keyStillValid(c.keyRef, now) || getWorkspace(rt.store, c.ctx.workspace.id) === undefined) throw unauthorized('Invalid token');
  return c.ctx;
}

/** Resolved static tokens: SHA-256 of the whole presented token → the records it resolved from. */
interface CachedStatic {
  token: TokenRecord;
  workspace: WorkspaceRecord;
  tenant: TenantRecord;
  ctx: AuthContext;
}

const STATIC_CACHE_ENTRIES = 4096;
const staticCaches = new WeakMap<StateStore, LruCache<string, CachedStatic>>();

/**
 * A static token's context. Verified contexts are cached per store, keyed by the
 * SHA-256 of the whole presented token (so only that exact token hits, and the lookup
 * never compares secrets), and used only while the store still holds the very same
 * token, workspace and tenant records: the store's records are frozen and replaced on
 * every change, so any change to them (new secret, scopes, deletion) is a miss.
 */
function staticContext(store: StateStore, presented: string): AuthContext {
  if (presented.length > MAX_STATIC_TOKEN_LENGTH) throw unauthorized('Invalid token');
  let cache = staticCaches.get(store);
  if (cache === undefined) {
    cache = new LruCache(STATIC_CACHE_ENTRIES);
    staticCaches.set(store, cache);
  }
  const key = hash('sha256', presented, 'base64');
  const hit = cache.get(key);
  if (hit !== undefined
    && store.get<TokenRecord>('tokens', hit.token.id) === hit.token
    && getWorkspace(store, hit.workspace.id) === hit.workspace
    && getTenant(store, hit.tenant.slug) === hit.tenant) {
    return hit.ctx;
  }
  const token = verifyStaticToken(store, presented);
  if (token === undefined) throw unauthorized('Invalid token');
  const workspace = getWorkspace(store, token.workspaceId);
  const tenant = workspace === undefined ? undefined : getTenant(store, workspace.tenant);
  if (workspace === undefined || tenant === undefined) throw unauthorized('Invalid token');
  const ctx: AuthContext = Object.freeze({
    tenant,
    workspace,
    token: Object.freeze({ id: token.id, name: token.name, kind: 'static' as const, origin: token.origin }),
    scopes: token.scopes,
    isAdmin: token.scopes.some((s) => s.type === 'ADMIN'),
    fixedParams: NO_FIXED,
    limits: NO_LIMITS,
  });
  cache.set(key, { token, workspace, tenant, ctx });
  return ctx;
}

/** Parameters of `pipe` fixed by the token (empty when none). They override the caller's. */
export function fixedParamsFor(ctx: AuthContext, pipe: string): Readonly<Record<string, FixedParam>> {
  const all = ctx.fixedParams;
  return all !== undefined && Object.prototype.hasOwnProperty.call(all, pipe) ? all[pipe]! : {};
}

/** True when the caller holds ADMIN or the global scope. */
export function hasGlobal(ctx: AuthContext, type: GlobalScopeType): boolean {
  return ctx.isAdmin || ctx.scopes.some((s) => s.type === type);
}

/** True when the caller holds ADMIN or the resource scope for `resource`. */
export function hasResource(ctx: AuthContext, type: ResourceScopeType, resource: string): boolean {
  return ctx.isAdmin || ctx.scopes.some((s) => s.type === type && s.resource === resource);
}

/** Throws 403 naming what is missing, unless one of the alternatives holds. */
export function requireAny(ctx: AuthContext, checks: ReadonlyArray<[boolean, string]>): void {
  if (checks.some(([ok]) => ok)) return;
  const needed = ['ADMIN', ...checks.map(([, name]) => name)].join(' or ');
  throw forbidden(`Forbidden: token '${ctx.token.name}' needs the ${needed} scope`);
}
