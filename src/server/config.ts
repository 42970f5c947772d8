/**
 * Server configuration: defaults, then the JSON config file (`--config` /
 * COLIBRI_CONFIG), then environment variables, then command-line flags.
 * The file is validated at start; an error names the bad key, e.g.
 * `config: tenants[0].host.urls: expected a non-empty array of http(s) URLs`.
 * Documented in docs/configuration.md.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseSso, type OperatorsConfig, type SsoConfig } from '../auth/sso/config.js';

export type HostConfig =
  | { kind: 'embedded' }
  | {
      kind: 'remote';
      /** One or more replica URLs of the same ClickHouse server or cluster endpoint. */
      urls: string[];
      user: string;
      password: string;
      /** A read-only user for tenant reads (recommended). */
      readUser?: string;
      readPassword?: string;
      /**
       * The cluster (a name in the servers' `remote_servers`) the URLs belong to: data
       * sources are then created ON CLUSTER as local tables plus a Distributed table.
       */
      cluster?: string;
    };

export interface TenantConfig {
  slug: string;
  name: string;
  host: HostConfig;
  workspaces: string[];
  /** Single sign-on with the tenant's own IdP (OIDC and/or SAML) and claim-mapping rules; docs/auth.md. */
  sso?: SsoConfig;
  /** Email domains of the customer's employees (login routing, operator view). */
  emailDomains?: string[];
  /** Limits of this tenant (over the server-wide `limits`), with optional per-workspace overrides. */
  limits?: TenantLimitsConfig;
}

/** Query and insert limits; any key missing falls back to the level above (workspace → tenant → server). */
export interface QueryLimits {
  /** Seconds a tenant query may run (ClickHouse max_execution_time); over it the query is killed on the host. */
  maxExecutionTime: number;
  maxResultRows: number;
  /** Largest result in bytes (ClickHouse max_result_bytes; 0: no limit). */
  maxResultBytes: number;
  maxMemoryUsage: number;
  /** Queries running at once on the host (0: no limit). */
  maxConcurrentQueries: number;
  /** Queries waiting for a slot beyond that; more are refused with 429 at once. */
  maxQueuedQueries: number;
  /** Longest wait for a slot; then 429 with Retry-After. */
  maxQueueWaitMs: number;
  /** Insert requests (Events API, appends) per second (0: no limit). */
  insertsPerSecond: number;
}

export interface TenantLimitsConfig extends Partial<QueryLimits> {
  /** Per-workspace limits (by workspace name), applied on top of the tenant's. */
  workspaces?: Record<string, Partial<QueryLimits>>;
}

/** Host health: heartbeats, circuit breaker, embedded engines started on demand. */
export interface HostsConfig {
  /** Interval of the heartbeat query (SELECT 1) on every started host. */
  heartbeatIntervalMs: number;
  /** A heartbeat not answered within this time counts as a failure. */
  heartbeatTimeoutMs: number;
  /** Consecutive failures (heartbeats or connection errors) that open a host's circuit breaker. */
  failureThreshold: number;
  /** An embedded host unused for this long is stopped (0: never); it starts again on the next request. */
  embeddedIdleStopMs: number;
}

/** Server-wide defaults of the tenant limits. */
export type LimitsConfig = QueryLimits;

export interface IngestConfig {
  /** How long the Events API waits to coalesce concurrent requests into one insert. */
  flushIntervalMs: number;
  /** A pending batch is flushed when it holds this many rows or bytes. */
  maxBatchRows: number;
  maxBatchBytes: number;
  /** Inserts of one table that may run at once (the engine writes each on about one core). */
  maxConcurrentInserts: number;
}

export interface AuthConfig {
  /** Algorithm of the per-tenant JWT signing keys published at /.well-known/jwks.json. */
  signingAlgorithm: 'ES256' | 'EdDSA';
  /** A tenant's signing key is replaced by a new one this many seconds after it was created. */
  keyRotationSeconds: number;
  /** The replaced key still verifies tokens (and stays in the JWKS) for this many seconds. */
  keyGraceSeconds: number;
  /** Requests per second per workspace, all tokens together (0: no limit). */
  workspaceRps: number;
  /** Verified JWTs kept in memory (bounded LRU). */
  jwtCacheEntries: number;
}

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  /** Largest request body accepted by the Data Sources API (bytes, after gzip decoding). */
  maxBodyBytes: number;
  /** Largest request body accepted by the Events API (bytes, after gzip decoding). */
  maxEventsBodyBytes: number;
  /** Largest form / query-string body for the other endpoints. */
  maxFormBytes: number;
  /** Graceful shutdown: how long in-flight requests may take after SIGTERM. */
  shutdownTimeoutMs: number;
  tenants: TenantConfig[];
  limits: LimitsConfig;
  ingest: IngestConfig;
  /** The SaaS operators' own IdP; operator sessions carry operator scopes only (docs/auth.md). */
  operators?: OperatorsConfig;
  auth: AuthConfig;
  hosts: HostsConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(`config: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_TENANT: TenantConfig = { slug: 'local', name: 'Local', host: { kind: 'embedded' }, workspaces: ['default'] };

export function defaultConfig(): ServerConfig {
  return {
    port: 7181,
    host: '127.0.0.1',
    dataDir: './.colibri',
    maxBodyBytes: 512 * 1024 * 1024,
    maxEventsBodyBytes: 10 * 1024 * 1024,
    maxFormBytes: 1024 * 1024,
    shutdownTimeoutMs: 10_000,
    tenants: [DEFAULT_TENANT],
    limits: {
      maxExecutionTime: 10, maxResultRows: 1_000_000, maxResultBytes: 0, maxMemoryUsage: 4 * 1024 * 1024 * 1024,
      maxConcurrentQueries: 32, maxQueuedQueries: 64, maxQueueWaitMs: 5000, insertsPerSecond: 0,
    },
    ingest: { flushIntervalMs: 50, maxBatchRows: 200_000, maxBatchBytes: 32 * 1024 * 1024, maxConcurrentInserts: 1 },
    auth: { signingAlgorithm: 'ES256', keyRotationSeconds: 30 * 24 * 3600, keyGraceSeconds: 7 * 24 * 3600, workspaceRps: 0, jwtCacheEntries: 10_000 },
    hosts: { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1000, failureThreshold: 2, embeddedIdleStopMs: 10 * 60 * 1000 },
  };
}

/** Command-line flags and environment, already split by the CLI. */
export interface ConfigSources {
  flags: { port?: string; host?: string; dataDir?: string; config?: string };
  env: NodeJS.ProcessEnv;
}

/** Build the effective configuration; throws ConfigError naming the bad key. */
export function loadConfig(sources: ConfigSources): ServerConfig {
  const config = defaultConfig();
  const file = sources.flags.config ?? sources.env.COLIBRI_CONFIG;
  if (file !== undefined && file !== '') applyFile(config, file, sources.env);
  const port = sources.flags.port ?? sources.env.COLIBRI_PORT;
  if (port !== undefined) config.port = parsePort(port, sources.flags.port !== undefined ? '--port' : 'COLIBRI_PORT');
  if (sources.flags.host !== undefined) config.host = nonEmpty(sources.flags.host, '--host');
  const dataDir = sources.flags.dataDir ?? sources.env.COLIBRI_DATA_DIR;
  if (dataDir !== undefined) config.dataDir = nonEmpty(dataDir, sources.flags.dataDir !== undefined ? '--data-dir' : 'COLIBRI_DATA_DIR');
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

const TOP_KEYS = new Set(['port', 'host', 'dataDir', 'maxBodyBytes', 'maxEventsBodyBytes', 'maxFormBytes', 'shutdownTimeoutMs', 'tenants', 'limits', 'ingest', 'operators', 'auth', 'hosts']);

function applyFile(config: ServerConfig, file: string, env: NodeJS.ProcessEnv): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const obj = object(raw, '(root)');
  for (const key of Object.keys(obj)) if (!TOP_KEYS.has(key)) throw new ConfigError(`${key}: unknown key`);
  if (obj.port !== undefined) config.port = parsePort(obj.port, 'port');
  if (obj.host !== undefined) config.host = nonEmpty(obj.host, 'host');
  if (obj.dataDir !== undefined) config.dataDir = path.resolve(path.dirname(file), nonEmpty(obj.dataDir, 'dataDir'));
  if (obj.maxBodyBytes !== undefined) config.maxBodyBytes = positiveInt(obj.maxBodyBytes, 'maxBodyBytes');
  if (obj.maxEventsBodyBytes !== undefined) config.maxEventsBodyBytes = positiveInt(obj.maxEventsBodyBytes, 'maxEventsBodyBytes');
  if (obj.maxFormBytes !== undefined) config.maxFormBytes = positiveInt(obj.maxFormBytes, 'maxFormBytes');
  if (obj.shutdownTimeoutMs !== undefined) config.shutdownTimeoutMs = positiveInt(obj.shutdownTimeoutMs, 'shutdownTimeoutMs');
  if (obj.tenants !== undefined) config.tenants = parseTenants(obj.tenants, env);
  if (obj.limits !== undefined) config.limits = parseLimits(obj.limits, config.limits);
  if (obj.ingest !== undefined) config.ingest = parseIngest(obj.ingest, config.ingest);
  if (obj.operators !== undefined) config.operators = parseSso(obj.operators, 'operators', env, failConfig, 'operators');
  if (obj.auth !== undefined) config.auth = parseAuth(obj.auth, config.auth);
  if (obj.hosts !== undefined) config.hosts = parseHostsConfig(obj.hosts, config.hosts);
}

function parseTenants(value: unknown, env: NodeJS.ProcessEnv): TenantConfig[] {
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError('tenants: expected a non-empty array');
  const seen = new Set<string>();
  return value.map((item, i) => {
    const tenant = parseTenant(item, `tenants[${i}]`, env);
    if (seen.has(tenant.slug)) throw new ConfigError(`tenants[${i}].slug: duplicate tenant '${tenant.slug}'`);
    seen.add(tenant.slug);
    return tenant;
  });
}

/** One tenant (config file entry or operator API body); throws ConfigError naming the key under `at`. */
export function parseTenant(item: unknown, at: string, env: NodeJS.ProcessEnv): TenantConfig {
  {
    const t = object(item, at);
    allowKeys(t, at, ['slug', 'name', 'host', 'workspaces', 'sso', 'emailDomains', 'limits']);
    const slug = slugValue(t.slug, `${at}.slug`);
    const name = t.name === undefined ? slug : nonEmpty(t.name, `${at}.name`);
    const host = parseHost(t.host ?? { kind: 'embedded' }, `${at}.host`, env);
    let workspaces = ['default'];
    if (t.workspaces !== undefined) {
      if (!Array.isArray(t.workspaces) || t.workspaces.length === 0) throw new ConfigError(`${at}.workspaces: expected a non-empty array of names`);
      workspaces = t.workspaces.map((w, j) => slugValue(w, `${at}.workspaces[${j}]`));
      if (new Set(workspaces).size !== workspaces.length) throw new ConfigError(`${at}.workspaces: duplicate workspace name`);
    }
    const tenant: TenantConfig = { slug, name, host, workspaces };
    if (t.sso !== undefined) tenant.sso = parseSso(t.sso, `${at}.sso`, env, failConfig, workspaces);
    if (t.emailDomains !== undefined) tenant.emailDomains = parseDomains(t.emailDomains, `${at}.emailDomains`);
    if (t.limits !== undefined) tenant.limits = parseTenantLimits(t.limits, `${at}.limits`, workspaces);
    return tenant;
  }
}

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
function parseDomains(value: unknown, at: string): string[] {
  if (!Array.isArray(value)) throw new ConfigError(`${at}: expected an array of domain names`);
  return value.map((d, i) => {
    if (typeof d !== 'string' || !DOMAIN.test(d.toLowerCase())) throw new ConfigError(`${at}[${i}]: expected a domain name like example.com`);
    return d.toLowerCase();
  });
}

const LIMIT_KEYS = ['maxExecutionTime', 'maxResultRows', 'maxResultBytes', 'maxMemoryUsage', 'maxConcurrentQueries', 'maxQueuedQueries', 'maxQueueWaitMs', 'insertsPerSecond'] as const;
const POSITIVE_LIMITS = new Set<string>(['maxExecutionTime', 'maxResultRows', 'maxMemoryUsage', 'maxQueueWaitMs']);

function parsePartialLimits(l: Record<string, unknown>, at: string): Partial<QueryLimits> {
  const out: Partial<QueryLimits> = {};
  for (const key of LIMIT_KEYS) {
    if (l[key] === undefined) continue;
    out[key] = POSITIVE_LIMITS.has(key) ? positiveInt(l[key], `${at}.${key}`) : nonNegativeInt(l[key], `${at}.${key}`);
  }
  return out;
}

/** `tenants[].limits`: the limit keys, plus `workspaces: {name: {...}}`. */
export function parseTenantLimits(value: unknown, at: string, workspaces?: readonly string[]): TenantLimitsConfig {
  const l = object(value, at);
  allowKeys(l, at, [...LIMIT_KEYS, 'workspaces']);
  const out: TenantLimitsConfig = parsePartialLimits(l, at);
  if (l.workspaces !== undefined) {
    const ws = object(l.workspaces, `${at}.workspaces`);
    out.workspaces = {};
    for (const [name, v] of Object.entries(ws)) {
      const wat = `${at}.workspaces.${name}`;
      if (workspaces !== undefined && !workspaces.includes(name)) throw new ConfigError(`${wat}: no such workspace`);
      const w = object(v, wat);
      allowKeys(w, wat, [...LIMIT_KEYS]);
      out.workspaces[name] = parsePartialLimits(w, wat);
    }
  }
  return out;
}

function parseHostsConfig(value: unknown, base: HostsConfig): HostsConfig {
  const h = object(value, 'hosts');
  allowKeys(h, 'hosts', ['heartbeatIntervalMs', 'heartbeatTimeoutMs', 'failureThreshold', 'embeddedIdleStopMs']);
  return {
    heartbeatIntervalMs: h.heartbeatIntervalMs === undefined ? base.heartbeatIntervalMs : positiveInt(h.heartbeatIntervalMs, 'hosts.heartbeatIntervalMs'),
    heartbeatTimeoutMs: h.heartbeatTimeoutMs === undefined ? base.heartbeatTimeoutMs : positiveInt(h.heartbeatTimeoutMs, 'hosts.heartbeatTimeoutMs'),
    failureThreshold: h.failureThreshold === undefined ? base.failureThreshold : positiveInt(h.failureThreshold, 'hosts.failureThreshold'),
    embeddedIdleStopMs: h.embeddedIdleStopMs === undefined ? base.embeddedIdleStopMs : nonNegativeInt(h.embeddedIdleStopMs, 'hosts.embeddedIdleStopMs'),
  };
}

function parseHost(value: unknown, at: string, env: NodeJS.ProcessEnv): HostConfig {
  const h = object(value, at);
  if (h.kind === 'embedded') {
    allowKeys(h, at, ['kind']);
    return { kind: 'embedded' };
  }
  if (h.kind !== 'remote') throw new ConfigError(`${at}.kind: expected 'embedded' or 'remote'`);
  allowKeys(h, at, ['kind', 'urls', 'user', 'password', 'passwordEnv', 'readUser', 'readPassword', 'readPasswordEnv', 'cluster']);
  if (!Array.isArray(h.urls) || h.urls.length === 0) throw new ConfigError(`${at}.urls: expected a non-empty array of http(s) URLs`);
  const urls = h.urls.map((u, i) => httpUrl(u, `${at}.urls[${i}]`));
  const user = h.user === undefined ? 'default' : nonEmpty(h.user, `${at}.user`);
  const password = secret(h, 'password', 'passwordEnv', at, env) ?? '';
  const host: HostConfig = { kind: 'remote', urls, user, password };
  if (h.readUser !== undefined) {
    host.readUser = nonEmpty(h.readUser, `${at}.readUser`);
    host.readPassword = secret(h, 'readPassword', 'readPasswordEnv', at, env) ?? '';
  }
  if (h.cluster !== undefined) {
    if (typeof h.cluster !== 'string' || !/^[A-Za-z_][A-Za-z0-9_-]{0,127}$/.test(h.cluster)) throw new ConfigError(`${at}.cluster: expected a cluster name from the servers' remote_servers`);
    host.cluster = h.cluster;
  }
  return host;
}

/** A secret is given inline or, better, as the name of an environment variable. */
function secret(h: Record<string, unknown>, key: string, envKey: string, at: string, env: NodeJS.ProcessEnv): string | undefined {
  if (h[key] !== undefined && h[envKey] !== undefined) throw new ConfigError(`${at}: give ${key} or ${envKey}, not both`);
  if (h[key] !== undefined) {
    if (typeof h[key] !== 'string') throw new ConfigError(`${at}.${key}: expected a string`);
    return h[key] as string;
  }
  if (h[envKey] !== undefined) {
    const name = nonEmpty(h[envKey], `${at}.${envKey}`);
    const v = env[name];
    if (v === undefined) throw new ConfigError(`${at}.${envKey}: environment variable ${name} is not set`);
    return v;
  }
  return undefined;
}

function parseLimits(value: unknown, base: LimitsConfig): LimitsConfig {
  const l = object(value, 'limits');
  allowKeys(l, 'limits', [...LIMIT_KEYS]);
  return { ...base, ...parsePartialLimits(l, 'limits') };
}

function parseIngest(value: unknown, base: IngestConfig): IngestConfig {
  const l = object(value, 'ingest');
  allowKeys(l, 'ingest', ['flushIntervalMs', 'maxBatchRows', 'maxBatchBytes', 'maxConcurrentInserts']);
  return {
    flushIntervalMs: l.flushIntervalMs === undefined ? base.flushIntervalMs : nonNegativeInt(l.flushIntervalMs, 'ingest.flushIntervalMs'),
    maxBatchRows: l.maxBatchRows === undefined ? base.maxBatchRows : positiveInt(l.maxBatchRows, 'ingest.maxBatchRows'),
    maxBatchBytes: l.maxBatchBytes === undefined ? base.maxBatchBytes : positiveInt(l.maxBatchBytes, 'ingest.maxBatchBytes'),
    maxConcurrentInserts: l.maxConcurrentInserts === undefined ? base.maxConcurrentInserts : positiveInt(l.maxConcurrentInserts, 'ingest.maxConcurrentInserts'),
  };
}

function parseAuth(value: unknown, base: AuthConfig): AuthConfig {
  const a = object(value, 'auth');
  allowKeys(a, 'auth', ['signingAlgorithm', 'keyRotationSeconds', 'keyGraceSeconds', 'workspaceRps', 'jwtCacheEntries']);
  if (a.signingAlgorithm !== undefined && a.signingAlgorithm !== 'ES256' && a.signingAlgorithm !== 'EdDSA') throw new ConfigError("auth.signingAlgorithm: expected 'ES256' or 'EdDSA'");
  return {
    signingAlgorithm: (a.signingAlgorithm as AuthConfig['signingAlgorithm'] | undefined) ?? base.signingAlgorithm,
    keyRotationSeconds: a.keyRotationSeconds === undefined ? base.keyRotationSeconds : positiveInt(a.keyRotationSeconds, 'auth.keyRotationSeconds'),
    keyGraceSeconds: a.keyGraceSeconds === undefined ? base.keyGraceSeconds : nonNegativeInt(a.keyGraceSeconds, 'auth.keyGraceSeconds'),
    workspaceRps: a.workspaceRps === undefined ? base.workspaceRps : nonNegativeInt(a.workspaceRps, 'auth.workspaceRps'),
    jwtCacheEntries: a.jwtCacheEntries === undefined ? base.jwtCacheEntries : positiveInt(a.jwtCacheEntries, 'auth.jwtCacheEntries'),
  };
}

/** For parsers in other modules: throw a ConfigError. */
function failConfig(message: string): never {
  throw new ConfigError(message);
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${at}: expected an object`);
  return value as Record<string, unknown>;
}

function allowKeys(obj: Record<string, unknown>, at: string, keys: string[]): void {
  for (const key of Object.keys(obj)) if (!keys.includes(key)) throw new ConfigError(`${at}.${key}: unknown key`);
}

function nonEmpty(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${at}: expected a non-empty string`);
  return value;
}

const SLUG = /^[a-z][a-z0-9_]{0,62}$/;
function slugValue(value: unknown, at: string): string {
  if (typeof value !== 'string' || !SLUG.test(value)) {
    throw new ConfigError(`${at}: expected a name of lowercase letters, digits and '_', starting with a letter (max 63)`);
  }
  return value;
}

function httpUrl(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new ConfigError(`${at}: expected an http(s) URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${at}: expected an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${at}: expected an http(s) URL`);
  if (url.username !== '' || url.password !== '') throw new ConfigError(`${at}: put credentials in user/password, not in the URL`);
  return value;
}

function parsePort(value: unknown, at: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${at}: expected a port number 0-65535`);
  return n;
}

function positiveInt(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new ConfigError(`${at}: expected a positive integer`);
  return value;
}

function nonNegativeInt(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ConfigError(`${at}: expected a non-negative integer`);
  return value;
}
