/**
 * Operator actions on tenants: add (provisions the host), update, remove (explicit
 * confirmation; deprovisions), and the redacted views the operator API returns.
 * Input is validated by the same parser as the config file (`parseTenant`), so both
 * reject the same mistakes with the same messages.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, parseTenant, type HostConfig, type TenantConfig } from '../server/config.js';
import type { Services } from '../server/services.js';
import type { Mutation } from '../state/store.js';
import { HttpError, badRequest, conflict, notFound } from '../server/errors.js';
import { HostUnavailableError } from '../clickhouse/host.js';
import { log } from '../ops/log.js';
import { getTenant, listTenants, listWorkspaces, newTenant, newWorkspace, type TenantRecord } from './model.js';
import { ensureAdminToken } from './bootstrap.js';
import { deprovisionHost, provisionDatabase } from './provision.js';
import { tenantLimits } from './limits.js';
import { masterKey, sealTenant } from './secrets.js';

/** A host configuration without its secrets. */
export function redactHost(host: HostConfig): Record<string, unknown> {
  if (host.kind === 'embedded') return { kind: 'embedded' };
  return {
    kind: 'remote',
    urls: host.urls,
    user: host.user,
    hasPassword: host.password !== '',
    ...(host.readUser !== undefined ? { readUser: host.readUser, hasReadPassword: (host.readPassword ?? '') !== '' } : {}),
    ...(host.cluster !== undefined ? { cluster: host.cluster } : {}),
  };
}

/** A tenant as operators see it (never credentials), with its host's health and load. */
export function describeTenant(services: Services, t: TenantRecord): Record<string, unknown> {
  const host = services.hosts.peek(t.slug);
  const limits = tenantLimits(services.config.limits, t.limits);
  const h = host?.health();
  return {
    slug: t.slug,
    name: t.name,
    source: t.source ?? 'config',
    created_at: t.createdAt,
    email_domains: t.emailDomains ?? [],
    sso: t.sso === undefined ? null : { configured: true },
    workspaces: listWorkspaces(services.store, t.slug).map((w) => ({ name: w.name, id: w.id, database: w.database })),
    host: redactHost(t.host),
    limits: { ...limits, workspaces: t.limits?.workspaces ?? {} },
    status: {
      health: host === undefined ? 'not started' : host.idle ? 'idle' : h!.state,
      ...(h?.lastError !== undefined ? { last_error: h.lastError } : {}),
      replicas: host?.replicas() ?? [],
      running_queries: host?.load().running ?? 0,
      queued_queries: host?.load().queued ?? 0,
      last_minute: host?.errors.snapshot() ?? { requests: 0, errors: 0, errorRate: 0 },
    },
  };
}

export function listTenantViews(services: Services): Record<string, unknown>[] {
  return listTenants(services.store).map((t) => describeTenant(services, t));
}

export function requireTenant(services: Services, slug: string): TenantRecord {
  const t = getTenant(services.store, slug);
  if (t === undefined) throw notFound(`Tenant '${slug.slice(0, 64)}' not found`);
  return t;
}

function parseInput(value: unknown): TenantConfig {
  try {
    return parseTenant(value, 'tenant', process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw badRequest(err.message.replace(/^config: /, ''));
    throw err;
  }
}

function tokenFile(services: Services, slug: string, ws: string): string {
  return path.join(services.config.dataDir, 'tokens', `${slug}.${ws}.token`);
}

/** Creates the tenant and its workspaces, provisions its host, issues the workspace admin tokens. */
export async function addTenant(services: Services, body: unknown): Promise<{ tenant: TenantRecord; tokens: Record<string, string> }> {
  const tc = parseInput(body);
  if (getTenant(services.store, tc.slug) !== undefined) throw conflict(`Tenant '${tc.slug}' already exists`);
  let record: TenantRecord = {
    ...newTenant(tc.slug, tc.name, tc.host),
    source: 'api',
    ...(tc.emailDomains !== undefined ? { emailDomains: tc.emailDomains } : {}),
    ...(tc.sso !== undefined ? { sso: tc.sso } : {}),
    ...(tc.limits !== undefined ? { limits: tc.limits } : {}),
  };
  const workspaces = tc.workspaces.map((w) => newWorkspace(tc.slug, w));
  record = sealTenant(masterKey(services.config.dataDir), record);
  await services.store.commit([
    { op: 'put', collection: 'tenants', id: record.slug, value: record },
    ...workspaces.map((w): Mutation => ({ op: 'put', collection: 'workspaces', id: w.id, value: w })),
  ]);
  const host = services.hosts.hostFor(record);
  // Remote hosts are provisioned now (a wrong URL or password fails the add); an
  // embedded engine is provisioned when its first request starts it.
  if (host.kind === 'remote') {
    try {
      await host.start();
    } catch (err) {
      await services.hosts.remove(record.slug);
      await services.store.commit([
        { op: 'delete', collection: 'tenants', id: record.slug },
        ...workspaces.map((w): Mutation => ({ op: 'delete', collection: 'workspaces', id: w.id })),
      ]);
      const why = err instanceof Error ? err.message : String(err);
      throw new HttpError(err instanceof HostUnavailableError ? 503 : 400, `Cannot provision tenant '${tc.slug}' on its host: ${why}`, err instanceof HostUnavailableError ? { 'Retry-After': '1' } : {});
    }
  }
  const tokens: Record<string, string> = {};
  for (const ws of workspaces) tokens[ws.name] = await ensureAdminToken(services.store, ws, tokenFile(services, record.slug, ws.name));
  log('info', 'tenant added', { tenant: record.slug, host: host.kind, workspaces: tc.workspaces });
  return { tenant: record, tokens };
}

const UPDATABLE = ['name', 'host', 'workspaces', 'sso', 'emailDomains', 'limits'];

/**
 * Changes name, email domains, SSO, limits or host, and adds workspaces (removing a
 * workspace is not done here). Tenants from the config file are changed in the file.
 */
export async function updateTenant(services: Services, slug: string, body: unknown): Promise<{ tenant: TenantRecord; tokens: Record<string, string> }> {
  const t = requireTenant(services, slug);
  if (t.source !== 'api') throw conflict(`Tenant '${slug}' is defined in the config file: change it there`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('Expected a JSON object');
  const patch = body as Record<string, unknown>;
  for (const k of Object.keys(patch)) if (!UPDATABLE.includes(k)) throw badRequest(`tenant.${k}: cannot be changed (changeable: ${UPDATABLE.join(', ')})`);
  const existing = listWorkspaces(services.store, slug);
  const names = existing.map((w) => w.name);
  if (patch.workspaces !== undefined) {
    if (!Array.isArray(patch.workspaces)) throw badRequest('tenant.workspaces: expected an array of names');
    const missing = names.filter((n) => !(patch.workspaces as unknown[]).includes(n));
    if (missing.length > 0) throw badRequest(`tenant.workspaces: removing workspaces is not supported (missing: ${missing.join(', ')})`);
  }
  const candidate = {
    slug,
    name: patch.name ?? t.name,
    workspaces: patch.workspaces ?? names,
    host: patch.host ?? { kind: 'embedded' },
    ...(patch.sso !== undefined ? { sso: patch.sso } : {}),
    ...(patch.emailDomains !== undefined ? { emailDomains: patch.emailDomains } : t.emailDomains !== undefined ? { emailDomains: t.emailDomains } : {}),
    ...(patch.limits !== undefined ? { limits: patch.limits } : t.limits !== undefined ? { limits: t.limits } : {}),
  };
  const tc = parseInput(candidate);
  let updated: TenantRecord = {
    ...t,
    name: tc.name,
    host: patch.host !== undefined ? tc.host : t.host,
    ...(tc.emailDomains !== undefined ? { emailDomains: tc.emailDomains } : {}),
    ...(tc.sso !== undefined ? { sso: tc.sso } : {}),
    ...(tc.limits !== undefined ? { limits: tc.limits } : {}),
    updatedAt: new Date().toISOString(),
  };
  updated = sealTenant(masterKey(services.config.dataDir), updated, t);
  const added = tc.workspaces.filter((n) => !names.includes(n)).map((n) => newWorkspace(slug, n));
  await services.store.commit([
    { op: 'put', collection: 'tenants', id: slug, value: updated },
    ...added.map((w): Mutation => ({ op: 'put', collection: 'workspaces', id: w.id, value: w })),
  ]);
  services.hosts.reconfigure(updated);
  const host = services.hosts.hostFor(updated);
  if (added.length > 0 || patch.host !== undefined) {
    host.reprovision();
    if (!host.idle) {
      for (const w of added) await provisionDatabase({ cluster: host.cluster, command: (sql, o) => host.command(sql, o) }, w.database);
    }
  }
  const tokens: Record<string, string> = {};
  for (const ws of added) tokens[ws.name] = await ensureAdminToken(services.store, ws, tokenFile(services, slug, ws.name));
  return { tenant: updated, tokens };
}

/** Drops the tenant's databases on its host, then forgets it (tokens stop working at once). */
export async function removeTenant(services: Services, slug: string, confirm: string | undefined): Promise<void> {
  const t = requireTenant(services, slug);
  if (t.source !== 'api') throw conflict(`Tenant '${slug}' is defined in the config file: remove it there`);
  if (confirm !== slug) throw badRequest(`Removing a tenant drops all its data: confirm with confirm=${slug}`);
  const workspaces = listWorkspaces(services.store, slug);
  const host = services.hosts.hostFor(t);
  await deprovisionHost(host, workspaces.map((w) => w.database));
  const ids = new Set(workspaces.map((w) => w.id));
  const mutations: Mutation[] = [{ op: 'delete', collection: 'tenants', id: slug }];
  for (const w of workspaces) mutations.push({ op: 'delete', collection: 'workspaces', id: w.id });
  for (const c of ['tokens', 'datasources', 'pipes'] as const) {
    for (const r of services.store.list<{ id: string; workspaceId: string }>(c)) if (ids.has(r.workspaceId)) mutations.push({ op: 'delete', collection: c, id: r.id });
  }
  await services.store.commit(mutations);
  await services.hosts.remove(slug);
  for (const w of workspaces) rmSync(tokenFile(services, slug, w.name), { force: true });
  if (t.host.kind === 'embedded') rmSync(path.join(services.config.dataDir, 'hosts', slug), { recursive: true, force: true });
  log('info', 'tenant removed', { tenant: slug });
}
