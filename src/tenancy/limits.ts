/** Effective limits: workspace over tenant over server-wide defaults. */
import type { QueryLimits, TenantLimitsConfig } from '../server/config.js';

export function tenantLimits(defaults: QueryLimits, tenant: TenantLimitsConfig | undefined): QueryLimits {
  if (tenant === undefined) return defaults;
  const { workspaces: _ws, ...own } = tenant;
  return { ...defaults, ...own };
}

/** Only the workspace's own overrides (undefined when it has none). */
export function workspaceOverrides(tenant: TenantLimitsConfig | undefined, workspace: string): Partial<QueryLimits> | undefined {
  const ws = tenant?.workspaces;
  return ws !== undefined && Object.prototype.hasOwnProperty.call(ws, workspace) ? ws[workspace] : undefined;
}
