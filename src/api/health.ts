/** `GET /healthz`: the process is up. `GET /readyz`: state loaded and every host reachable. */
import { Router } from 'express';
import type { Services } from '../server/services.js';
import { listTenants } from '../tenancy/model.js';

const PING_TIMEOUT_MS = 2000;

export function healthRouter(services: Services): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (!services.isReady()) {
      res.setHeader('Retry-After', '1');
      res.status(503).json({ status: 'starting', error: 'Server is not ready' });
      return;
    }
    const hosts: Record<string, string> = {};
    await Promise.all(
      listTenants(services.store).map(async (tenant) => {
        const host = services.hosts.hostFor(tenant);
        const ok = await Promise.race([host.ping(), new Promise<boolean>((r) => setTimeout(() => r(false), PING_TIMEOUT_MS).unref())]);
        hosts[tenant.slug] = ok ? 'up' : 'down';
      }),
    );
    const ready = Object.values(hosts).every((s) => s === 'up');
    if (!ready) res.setHeader('Retry-After', '1');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'degraded', hosts, ...(ready ? {} : { error: 'A ClickHouse host is unreachable' }) });
  });
  return router;
}
