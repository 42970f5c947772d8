/**
 * Session-cookie verification cost per request (issue 6): `sessionContext()` on a
 * real cookie (AES-256-GCM decrypt + HMAC-SHA256 verify + claims + revocation
 * lookups + scopes), target ≤ 50 µs. Baseline measured in the same run: one
 * SHA-256 of a static token secret plus the store lookup, which is what a static
 * token costs (`verifyStaticToken`). Prints µs per call and the ratio.
 */
import type { Request } from 'express';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { ensureSessionKeys, newSessionClaims, seal, sessionContext, SESSION_COOKIE } from '../../src/auth/sso/session.js';
import { issueToken, verifyStaticToken } from '../../src/auth/tokens.js';
import { newTenant, newWorkspace } from '../../src/tenancy/model.js';

function perCall(fn: () => void, n: number): number {
  for (let i = 0; i < 2000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

export async function benchSession(): Promise<void> {
  const store = new MemoryStateStore();
  await store.open();
  const ws = { ...newWorkspace('acme', 'default'), id: 'w1' };
  const issued = issueToken('w1', 'bench', '', [{ type: 'PIPES:READ', resource: 'p' }], 'user');
  await store.commit([
    { op: 'put', collection: 'tenants', id: 'acme', value: newTenant('acme', 'Acme', { kind: 'embedded' }) },
    { op: 'put', collection: 'workspaces', id: 'w1', value: ws },
    { op: 'put', collection: 'tokens', id: issued.record.id, value: issued.record },
  ]);
  const keys = await ensureSessionKeys(store);
  const claims = newSessionClaims({
    sub: '00u1abcdefghijklmnop', ten: 'acme', idp: 'oidc', email: 'ana.lopez@acme.com', name: 'Ana López', sid: 'a5b9c1d2-e3f4-5678-9abc-def012345678',
    grants: [{ workspace: 'default', scopes: ['PIPES:READ:sales', 'PIPES:READ:daily_kpis', 'DATASOURCES:READ:events', 'DATASOURCES:APPEND:events'] }],
  });
  const cookie = await seal(keys, 'session', { ...claims }, 3600);
  const req = { method: 'GET', headers: { cookie: `theme=dark; ${SESSION_COOKIE}=${cookie}` }, query: {} } as unknown as Request;
  if (sessionContext(store, req)?.workspace.id !== 'w1') throw new Error('bench: session did not verify');
  const n = 50_000;
  const baseline = perCall(() => {
    if (verifyStaticToken(store, issued.token) === undefined) throw new Error('baseline failed');
  }, n);
  const session = perCall(() => {
    if (sessionContext(store, req) === undefined) throw new Error('session failed');
  }, n);
  const target = 50;
  console.log(`  cookie: ${cookie.length} bytes`);
  console.log(`  session cookie verification (sessionContext): ${session.toFixed(2)} µs/request (target ≤ ${target} µs: ${session <= target ? 'met' : 'NOT met'})`);
  console.log(`  baseline static token (verifyStaticToken, same run): ${baseline.toFixed(2)} µs/request; ratio session/baseline ${(session / baseline).toFixed(2)}×`);
  await store.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSession();
