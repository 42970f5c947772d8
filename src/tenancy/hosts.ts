/**
 * One Host per tenant, created from the tenant's host configuration. The host for a
 * request is derived only from the authenticated tenant: nothing a client sends can
 * choose another one.
 */
import path from 'node:path';
import { createHost } from '../clickhouse/index.js';
import type { Host } from '../clickhouse/host.js';
import type { TenantRecord } from './model.js';

export class HostRegistry {
  readonly #hosts = new Map<string, Host>();
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** The tenant's host, created on first use (not started). */
  hostFor(tenant: TenantRecord): Host {
    let host = this.#hosts.get(tenant.slug);
    if (host === undefined) {
      host = createHost(tenant.host, { name: tenant.slug, dataDir: path.join(this.#dataDir, 'hosts', tenant.slug) });
      this.#hosts.set(tenant.slug, host);
    }
    return host;
  }

  all(): Host[] {
    return [...this.#hosts.values()];
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.#hosts.values()].map((h) => h.close()));
    this.#hosts.clear();
  }
}
