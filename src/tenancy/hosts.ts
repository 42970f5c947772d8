/**
 * One TenantHost per tenant, built from the tenant's record in the state. The host
 * for a request is derived only from the authenticated tenant: nothing a client
 * sends can choose another one. Each tenant has its own client pool and credentials.
 *
 * The registry also runs the heartbeats of started hosts and stops embedded engines
 * left idle. Until `configure` is called (bootstrap does it) it uses the defaults.
 */
import path from 'node:path';
import type { Host } from '../clickhouse/host.js';
import { defaultConfig, type HostsConfig, type QueryLimits } from '../server/config.js';
import type { StateStore } from '../state/store.js';
import { HttpError } from '../server/errors.js';
import { log } from '../ops/log.js';
import { listWorkspaces, type TenantRecord } from './model.js';
import { TenantHost } from './tenant-host.js';
import { tenantLimits } from './limits.js';
import { provisionHost } from './provision.js';
import { masterKey, openHost } from './secrets.js';

export class HostRegistry {
  readonly #hosts = new Map<string, TenantHost>();
  /** The stored (sealed) host configuration each host was built from. */
  readonly #built = new Map<string, string>();
  readonly #dataDir: string;
  #health: HostsConfig;
  #defaults: QueryLimits;
  #store: StateStore | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beating = false;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
    const d = defaultConfig();
    this.#health = d.hosts;
    this.#defaults = d.limits;
  }

  /** Settings and state (for tenant records and workspace lists); starts the heartbeat timer. */
  configure(options: { health: HostsConfig; limits: QueryLimits; store: StateStore }): void {
    this.#health = options.health;
    this.#defaults = options.limits;
    this.#store = options.store;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#tick(), this.#health.heartbeatIntervalMs);
      this.#timer.unref();
    }
  }

  /** The tenant's host, created on first use (embedded engines start on their first request). */
  hostFor(tenant: TenantRecord): TenantHost {
    const current = this.#store === undefined ? tenant : this.#store.get<TenantRecord>('tenants', tenant.slug);
    if (current === undefined) throw new HttpError(404, `Tenant '${tenant.slug}' no longer exists`);
    let host = this.#hosts.get(current.slug);
    const fingerprint = JSON.stringify(current.host);
    if (host !== undefined && this.#built.get(current.slug) !== fingerprint) {
      // The operator moved the tenant to another host: new connections from now on.
      void host.close();
      host = undefined;
    }
    if (host === undefined) {
      host = this.#create(current);
      this.#hosts.set(current.slug, host);
      this.#built.set(current.slug, fingerprint);
    }
    return host;
  }

  /** The host if it was created (no side effects), for the operator view. */
  peek(slug: string): TenantHost | undefined {
    return this.#hosts.get(slug);
  }

  /** Apply new limits of an updated tenant to its host, if it exists. */
  reconfigure(tenant: TenantRecord): void {
    this.#hosts.get(tenant.slug)?.configure(tenantLimits(this.#defaults, tenant.limits), tenant.limits);
  }

  /** Close and forget a tenant's host (tenant removed). */
  async remove(slug: string): Promise<void> {
    const h = this.#hosts.get(slug);
    this.#hosts.delete(slug);
    this.#built.delete(slug);
    await h?.close();
  }

  all(): Host[] {
    return [...this.#hosts.values()];
  }

  async closeAll(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([...this.#hosts.values()].map((h) => h.close()));
    this.#hosts.clear();
    this.#built.clear();
  }

  #create(tenant: TenantRecord): TenantHost {
    const store = this.#store;
    const slug = tenant.slug;
    return new TenantHost({
      slug,
      // Passwords are sealed in the state (secrets.ts); opened here only.
      config: openHost(masterKey(this.#dataDir), slug, tenant.host),
      dataDir: path.join(this.#dataDir, 'hosts', slug),
      health: this.#health,
      limits: tenantLimits(this.#defaults, tenant.limits),
      tenantLimits: tenant.limits,
      provision: (target) => provisionHost(target, store === undefined ? [] : listWorkspaces(store, slug).map((w) => w.database)),
    });
  }

  async #tick(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      const now = Date.now();
      const hosts = [...this.#hosts.values()];
      for (const h of hosts) {
        if (h.stopIfIdle(now, this.#health.embeddedIdleStopMs)) log('info', 'embedded host stopped after idle period', { tenant: h.name });
      }
      await Promise.all(hosts.map((h) => h.heartbeat()));
    } finally {
      this.#beating = false;
    }
  }
}
