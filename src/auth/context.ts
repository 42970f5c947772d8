/**
 * Resolving a request to who is calling, and checking what they may do.
 * A token is accepted as `Authorization: Bearer <token>` or `?token=<token>`.
 */
import type { Request } from 'express';
import type { StateStore } from '../state/store.js';
import { forbidden, unauthorized } from '../server/errors.js';
import { getTenant, getWorkspace, type TenantRecord, type WorkspaceRecord } from '../tenancy/model.js';
import type { Scope, ResourceScopeType, GlobalScopeType } from './scopes.js';
import { verifyStaticToken, type TokenRecord } from './tokens.js';

export interface AuthContext {
  tenant: TenantRecord;
  workspace: WorkspaceRecord;
  token: TokenRecord;
  scopes: readonly Scope[];
  isAdmin: boolean;
}

/** The token a request presents, or undefined. */
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

/** Resolve the caller; throws 401 when there is no valid token. */
export function authenticate(store: StateStore, req: Request): AuthContext {
  const presented = presentedToken(req);
  if (presented === undefined) throw unauthorized('Authentication required: pass a token as "Authorization: Bearer <token>" or "?token=<token>"');
  const token = presented === '' ? undefined : verifyStaticToken(store, presented);
  if (token === undefined) throw unauthorized('Invalid token');
  const workspace = getWorkspace(store, token.workspaceId);
  const tenant = workspace === undefined ? undefined : getTenant(store, workspace.tenant);
  if (workspace === undefined || tenant === undefined) throw unauthorized('Invalid token');
  return { tenant, workspace, token, scopes: token.scopes, isAdmin: token.scopes.some((s) => s.type === 'ADMIN') };
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
