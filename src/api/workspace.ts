/**
 * `GET /v0/workspace`: the caller's workspace. Its `id` is the `workspace_id` claim
 * of the workspace's JWTs. Needs the ADMIN scope.
 */
import { Router } from 'express';
import type { Services } from '../server/services.js';
import { authenticate, requireAny } from '../auth/context.js';

export function workspaceRouter(services: Services): Router {
  const router = Router();
  router.get('/', (req, res) => {
    const ctx = authenticate(services.store, req);
    requireAny(ctx, [[ctx.isAdmin, 'ADMIN']]);
    res.json({ id: ctx.workspace.id, name: ctx.workspace.name, tenant: ctx.tenant.slug, created_at: ctx.workspace.createdAt });
  });
  return router;
}
