/**
 * Tenant secrets at rest: the host passwords (`host.password`, `host.readPassword`)
 * and the OIDC client secret (`sso.oidc.clientSecret`) of a tenant record are kept in
 * the state store sealed with the master key (`<data-dir>/master.key`, AES-256-GCM,
 * src/auth/seal.ts), bound to the tenant slug and the field. They are opened only
 * where they are used: when a tenant's host is built, and when its SSO login runs.
 * Records written before sealing (clear values) are still read.
 */
import type { HostConfig } from '../server/config.js';
import type { SsoConfig } from '../auth/sso/config.js';
import { loadMasterKey, seal, unseal } from '../auth/seal.js';
import type { TenantRecord } from './model.js';

const PREFIX = 'sealed:';

const keys = new Map<string, Buffer>();

/** The master key of a data directory (read once; created on first use). */
export function masterKey(dataDir: string): Buffer {
  let k = keys.get(dataDir);
  if (k === undefined) {
    k = loadMasterKey(dataDir);
    keys.set(dataDir, k);
  }
  return k;
}

export function isSealed(value: string | undefined): boolean {
  return value !== undefined && value.startsWith(PREFIX);
}

function context(slug: string, field: string): string {
  return `colibri.tenant.${slug}.${field}`;
}

function open(key: Buffer, slug: string, field: string, value: string): string {
  return isSealed(value) ? unseal(key, value.slice(PREFIX.length), context(slug, field)).toString('utf8') : value;
}

/** Seal `plain`, reusing `previous` when it already seals the same value (no churn in the state). */
function close(key: Buffer, slug: string, field: string, plain: string, previous: string | undefined): string {
  if (plain === '' || isSealed(plain)) return plain;
  if (previous !== undefined && isSealed(previous)) {
    try {
      if (open(key, slug, field, previous) === plain) return previous;
    } catch {
      // sealed with another key: seal again
    }
  }
  return PREFIX + seal(key, plain, context(slug, field));
}

/** The host configuration with its passwords in clear (for building the host only). */
export function openHost(key: Buffer, slug: string, host: HostConfig): HostConfig {
  if (host.kind !== 'remote' || (!isSealed(host.password) && !isSealed(host.readPassword))) return host;
  return {
    ...host,
    password: open(key, slug, 'host.password', host.password),
    ...(host.readPassword !== undefined ? { readPassword: open(key, slug, 'host.readPassword', host.readPassword) } : {}),
  };
}

const openedSso = new WeakMap<SsoConfig, SsoConfig>();

/** The SSO configuration with the OIDC client secret in clear; the same object for the same record (caches key on it). */
export function openSso(key: Buffer, slug: string, sso: SsoConfig): SsoConfig {
  const secret = sso.oidc?.clientSecret;
  if (sso.oidc === undefined || secret === undefined || !isSealed(secret)) return sso;
  let o = openedSso.get(sso);
  if (o === undefined) {
    o = { ...sso, oidc: { ...sso.oidc, clientSecret: open(key, slug, 'sso.oidc.clientSecret', secret) } };
    openedSso.set(sso, o);
  }
  return o;
}

/** The record as it is stored: secrets sealed (values already sealed in `previous` are reused). */
export function sealTenant(key: Buffer, record: TenantRecord, previous?: TenantRecord): TenantRecord {
  const slug = record.slug;
  let out: TenantRecord = record;
  const h = record.host;
  if (h.kind === 'remote') {
    const prev = previous?.host.kind === 'remote' ? previous.host : undefined;
    out = {
      ...out,
      host: {
        ...h,
        password: close(key, slug, 'host.password', h.password, prev?.password),
        ...(h.readPassword !== undefined ? { readPassword: close(key, slug, 'host.readPassword', h.readPassword, prev?.readPassword) } : {}),
      },
    };
  }
  const secret = record.sso?.oidc?.clientSecret;
  if (record.sso?.oidc !== undefined && secret !== undefined) {
    const sealed = close(key, slug, 'sso.oidc.clientSecret', secret, previous?.sso?.oidc?.clientSecret);
    out = { ...out, sso: { ...record.sso, oidc: { ...record.sso.oidc, clientSecret: sealed } } };
  }
  return out;
}

/** The record with its secrets in clear (to compare with a configuration). */
export function openTenant(key: Buffer, record: TenantRecord): TenantRecord {
  const host = openHost(key, record.slug, record.host);
  const sso = record.sso === undefined ? undefined : openSso(key, record.slug, record.sso);
  return { ...record, host, ...(sso !== undefined ? { sso } : {}) };
}
