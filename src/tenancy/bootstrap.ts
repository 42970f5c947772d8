/**
 * Start-up provisioning: every tenant and workspace of the configuration exists in
 * the state, its database exists on the tenant's host, and its admin token exists.
 * Idempotent: running it again changes nothing.
 *
 * The admin token of the first workspace of the first tenant (by default tenant
 * `local`, workspace `default`) is written to `<data-dir>/admin.token`; every
 * workspace's admin token is also in `<data-dir>/tokens/<tenant>.<workspace>.token`.
 * Files are mode 0600. A missing (or stale) file is recreated by issuing a new secret for that
 * admin token (the old secret stops working).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerConfig, TenantConfig } from '../server/config.js';
import type { StateStore } from '../state/store.js';
import { writeFileDurable } from '../state/files.js';
import { issueToken, listTokens, rotateSecret, verifyStaticToken } from '../auth/tokens.js';
import { quoteIdentifier } from '../clickhouse/sql.js';
import { log } from '../ops/log.js';
import type { HostRegistry } from './hosts.js';
import { findWorkspace, getTenant, newTenant, newWorkspace, type TenantRecord, type WorkspaceRecord } from './model.js';

export interface BootstrapResult {
  /** The first workspace's admin token (also in admin.token). */
  adminToken: string;
  adminTokenFile: string;
  workspaces: WorkspaceRecord[];
}

export async function bootstrap(config: ServerConfig, store: StateStore, hosts: HostRegistry): Promise<BootstrapResult> {
  const tokensDir = path.join(config.dataDir, 'tokens');
  mkdirSync(tokensDir, { recursive: true, mode: 0o700 });
  const workspaces: WorkspaceRecord[] = [];
  let first: string | undefined;
  for (const tc of config.tenants) {
    const tenant = await ensureTenant(store, tc);
    const host = hosts.hostFor(tenant);
    await host.start();
    for (const wsName of tc.workspaces) {
      const ws = await ensureWorkspace(store, tenant, wsName);
      await host.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(ws.database)}`);
      const token = await ensureAdminToken(store, ws, path.join(tokensDir, `${tenant.slug}.${ws.name}.token`));
      workspaces.push(ws);
      first ??= token;
    }
  }
  const adminTokenFile = path.join(config.dataDir, 'admin.token');
  if (first === undefined) throw new Error('no workspace configured');
  if (!existsSync(adminTokenFile) || readFileSync(adminTokenFile, 'utf8').trim() !== first) writeFileDurable(adminTokenFile, first + '\n');
  return { adminToken: first, adminTokenFile, workspaces };
}

async function ensureTenant(store: StateStore, tc: TenantConfig): Promise<TenantRecord> {
  const existing = getTenant(store, tc.slug);
  if (existing !== undefined && JSON.stringify(existing.host) === JSON.stringify(tc.host) && existing.name === tc.name) return existing;
  const record: TenantRecord = existing === undefined ? newTenant(tc.slug, tc.name, tc.host) : { ...existing, name: tc.name, host: tc.host };
  await store.commit([{ op: 'put', collection: 'tenants', id: record.slug, value: record }]);
  return record;
}

async function ensureWorkspace(store: StateStore, tenant: TenantRecord, name: string): Promise<WorkspaceRecord> {
  const existing = findWorkspace(store, tenant.slug, name);
  if (existing !== undefined) return existing;
  const ws = newWorkspace(tenant.slug, name);
  await store.commit([{ op: 'put', collection: 'workspaces', id: ws.id, value: ws }]);
  return ws;
}

/** The workspace admin token as written in `file`, (re)issued when needed. */
async function ensureAdminToken(store: StateStore, ws: WorkspaceRecord, file: string): Promise<string> {
  const existing = listTokens(store, ws.id).find((t) => t.origin === 'admin');
  if (existing !== undefined && existsSync(file)) {
    const value = readFileSync(file, 'utf8').trim();
    if (verifyStaticToken(store, value)?.id === existing.id) return value;
  }
  let issued;
  if (existing === undefined) {
    issued = issueToken(ws.id, 'admin token', `Workspace admin token for ${ws.tenant}/${ws.name}`, [{ type: 'ADMIN' }], 'admin');
  } else {
    issued = rotateSecret(existing);
    log('warn', 'admin token file missing: issued a new secret for the workspace admin token', { tenant: ws.tenant, workspace: ws.name, file });
  }
  await store.commit([{ op: 'put', collection: 'tokens', id: issued.record.id, value: issued.record }]);
  const token = issued.token;
  writeFileDurable(file, token + '\n');
  return token;
}
