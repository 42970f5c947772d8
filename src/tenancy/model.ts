/**
 * Tenants and workspaces as stored in the control-plane state.
 * A tenant owns exactly one ClickHouse host; each of its workspaces is one
 * database on that host.
 */
import { randomUUID } from 'node:crypto';
import type { HostConfig, TenantLimitsConfig } from '../server/config.js';
import type { SsoConfig } from '../auth/sso/config.js';
import type { StateStore } from '../state/store.js';

export interface TenantRecord {
  readonly [key: string]: unknown;
  id: string;
  slug: string;
  name: string;
  host: HostConfig;
  createdAt: string;
  /** 'config': from the config file (re-applied at each start); 'api': created by an operator. */
  source?: 'config' | 'api';
  emailDomains?: string[];
  sso?: SsoConfig;
  limits?: TenantLimitsConfig;
  updatedAt?: string;
}

export interface WorkspaceRecord {
  readonly [key: string]: unknown;
  id: string;
  tenant: string;
  name: string;
  /** The workspace database on the tenant's host. */
  database: string;
  createdAt: string;
}

export function getTenant(store: StateStore, slug: string): TenantRecord | undefined {
  return store.get<TenantRecord>('tenants', slug);
}

export function listTenants(store: StateStore): TenantRecord[] {
  return store.list<TenantRecord>('tenants');
}

export function getWorkspace(store: StateStore, id: string): WorkspaceRecord | undefined {
  return store.get<WorkspaceRecord>('workspaces', id);
}

export function findWorkspace(store: StateStore, tenant: string, name: string): WorkspaceRecord | undefined {
  return store.list<WorkspaceRecord>('workspaces').find((w) => w.tenant === tenant && w.name === name);
}

export function listWorkspaces(store: StateStore, tenant: string): WorkspaceRecord[] {
  return store.list<WorkspaceRecord>('workspaces').filter((w) => w.tenant === tenant);
}

export function newTenant(slug: string, name: string, host: HostConfig): TenantRecord {
  return { id: randomUUID(), slug, name, host, createdAt: new Date().toISOString() };
}

export function newWorkspace(tenant: string, name: string): WorkspaceRecord {
  const id = randomUUID();
  // Readable for operators, unique on the host thanks to the id part.
  const database = `ws_${name}_${id.replace(/-/g, '').slice(0, 12)}`;
  return { id, tenant, name, database, createdAt: new Date().toISOString() };
}
