/**
 * The authenticated tenant and workspace of the request being served, carried through
 * async calls (AsyncLocalStorage) so that a tenant's host can apply the workspace's
 * limits without every caller passing them. Set once per request by the tenancy
 * middleware (api/admin.ts), from the authenticated identity only.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestScope {
  tenant: string;
  /** Workspace name. */
  workspace: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export function currentScope(): RequestScope | undefined {
  return requestScope.getStore();
}
