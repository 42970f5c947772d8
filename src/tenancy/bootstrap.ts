/**
 * Start-up: every tenant and workspace of the configuration exists in the state and
 * its admin token exists; the operator token exists. Hosts are provisioned (internal
 * database, workspace databases) before their first use: remote hosts right away in
 * the background, embedded engines when their first request starts them (lazy), so a
 * dead host never stops the server from starting. Idempotent.
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
import { log } from '../ops/log.js';
import { ensureOperatorToken } from './operator.js';
import { masterKey, sealTenant } from './secrets.js';
import type { HostRegistry } from './hosts.js';
import { findWorkspace, getTenant, listTenants, listWorkspaces, newTenant, newWorkspace, type TenantRecord, type WorkspaceRecord } from './model.js';

export interface BootstrapResult {
  /** The first workspace's admin token (also in admin.token). */
  adminToken: string;
  adminTokenFile: string;
  operatorTokenFile: string;
  workspaces: WorkspaceRecord[];
}

export async function bootstrap(config: ServerConfig, store: StateStore, hosts: HostRegistry): Promise<BootstrapResult> {
  const tokensDir = path.join(config.dataDir, 'tokens');
  mkdirSync(tokensDir, { recursive: true, mode: 0o700 });
  hosts.configure({ health: config.hosts, limits: config.limits, store });
  const operatorTokenFile = await ensureOperatorToken(store, config.dataDir);
  const workspaces: WorkspaceRecord[] = [];
  let first: string | undefined;
  const configured = new Set(config.tenants.map((t) => t.slug));
  for (const tc of config.tenants) {
    const tenant = await ensureTenant(store, tc, masterKey(config.dataDir));
    for (const wsName of tc.workspaces) {
      const ws = await ensureWorkspace(store, tenant, wsName);
      const token = await ensureAdminToken(store, ws, path.join(tokensDir, `${tenant.slug}.${ws.name}.token`));
      workspaces.push(ws);
      first ??= token;
    }
  }
  // Tenants added by operators: their admin token files, like the configured ones.
  for (const tenant of listTenants(store)) {
    if (configured.has(tenant.slug)) continue;
    for (const ws of listWorkspaces(store, tenant.slug)) await ensureAdminToken(store, ws, path.join(tokensDir, `${tenant.slug}.${ws.name}.token`));
  }
  for (const tenant of listTenants(store)) {
    const host = hosts.hostFor(tenant);
    if (host.kind === 'remote') {
      host.start().catch((err: unknown) => log('warn', 'tenant host not reachable at start; it will be provisioned when it answers', { tenant: tenant.slug, error: err }));
    }
  }
  const adminTokenFile = path.join(config.dataDir, 'admin.token');
  if (first === undefined) throw new Error('no workspace configured');
  if (!existsSync(adminTokenFile) || readFileSync(adminTokenFile, 'utf8').trim() !== first) writeFileDurable(adminTokenFile, first + '\n');
  return { adminToken: first, adminTokenFile, operatorTokenFile, workspaces };
}

async function ensureTenant(store: StateStore, tc: TenantConfig, key: Buffer): Promise<TenantRecord> {
  const existing = getTenant(store, tc.slug);
  const base: TenantRecord = existing ?? newTenant(tc.slug, tc.name, tc.host);
  let record: TenantRecord = { ...base, name: tc.name, host: tc.host, source: 'config' };
  delete (record as { emailDomains?: unknown }).emailDomains;
  delete (record as { limits?: unknown }).limits;
  if (tc.emailDomains !== undefined) (record as { emailDomains?: string[] }).emailDomains = tc.emailDomains;
  if (tc.limits !== undefined) (record as { limits?: unknown }).limits = tc.limits;
  // Passwords are kept sealed (secrets.ts); unchanged ones keep their sealed form.
  record = sealTenant(key, record, existing);
  if (existing !== undefined && JSON.stringify(existing) === JSON.stringify(record)) return existing;
  await store.commit([{ op: 'put', collection: 'tenants', id: record.slug, value: record }]);
  return record;
}

export async function ensureWorkspace(store: StateStore, tenant: TenantRecord, name: string): Promise<WorkspaceRecord> {
  const existing = findWorkspace(store, tenant.slug, name);
  if (existing !== undefined) return existing;
  const ws = newWorkspace(tenant.slug, name);
  await store.commit([{ op: 'put', collection: 'workspaces', id: ws.id, value: ws }]);
  return ws;
}

/** The workspace admin token as written in `file`, (re)issued when needed. */
export async function ensureAdminToken(store: StateStore, ws: WorkspaceRecord, file: string): Promise<string> {
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
