/**
 * `GET /.well-known/jwks.json`: the public keys that verify JWTs Colibri signs with
 * per-tenant keys (the current key of every tenant, and replaced keys still within
 * their grace period). `?tenant=<slug>` narrows it to one tenant. No authentication:
 * public keys are public; kids are random and reveal nothing.
 */
import { Router } from 'express';
import type { Services } from '../server/services.js';
import { configureAuth } from '../auth/runtime.js';
import { publicJwks, readKeyring } from '../auth/keys.js';
import { listTenants } from '../tenancy/model.js';

export function jwksRouter(services: Services): Router {
  const router = Router();
  const rt = configureAuth(services.store, { dataDir: services.config.dataDir, auth: services.config.auth });
  router.get('/.well-known/jwks.json', async (req, res) => {
    const now = Date.now();
    await rt.maintain(now);
    const only = typeof req.query.tenant === 'string' ? req.query.tenant : undefined;
    const tenants = listTenants(services.store).filter((t) => only === undefined || t.slug === only);
    const keys = publicJwks(tenants.map((t) => readKeyring(services.store, t.slug)), now, rt.graceMs);
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json({ keys });
  });
  return router;
}
