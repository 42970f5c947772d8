/**
 * Per-request cost of authentication, in process, on `authenticate()` (what every
 * API route calls). Targets: a static token ≤ 20 µs, a JWT with cached keys ≤ 50 µs.
 * Baseline in the same run: a bare SHA-256 of a 43-character secret + a Map lookup
 * (the least a hashed-token check can cost); each figure is printed with its ratio to it.
 *
 * Also printed: a JWT's first verification (jose, keys already imported, no cached
 * result) for HS256 and ES256 — the cost paid once per JWT until it expires or is
 * evicted from the bounded cache.
 *
 * Run: `node dist/test/bench/auth.js` (or through `npm run bench`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request } from 'express';
import { SignJWT } from 'jose';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { newTenant, newWorkspace } from '../../src/tenancy/model.js';
import { issueToken } from '../../src/auth/tokens.js';
import { configureAuth } from '../../src/auth/runtime.js';
import { authenticate, resolveTokenAsync } from '../../src/auth/context.js';
import { defaultConfig } from '../../src/server/config.js';

const STATIC_TARGET_US = 20;
const JWT_TARGET_US = 50;

function fakeRequest(token: string): Request {
  return { headers: { authorization: `Bearer ${token}` }, query: {} } as unknown as Request;
}

function timeSync(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

async function timeAsync(n: number, fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < Math.min(n, 200); i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

export async function benchAuth(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'colibri-bench-auth-'));
  const store = new MemoryStateStore();
  await store.open();
  try {
    const tenant = newTenant('bench', 'Bench', { kind: 'embedded' });
    const ws = newWorkspace('bench', 'main');
    await store.commit([
      { op: 'put', collection: 'tenants', id: tenant.slug, value: tenant },
      { op: 'put', collection: 'workspaces', id: ws.id, value: ws },
    ]);
    // A realistic token table: 10,000 tokens in the workspace.
    const batch = [];
    for (let i = 0; i < 10_000; i++) {
      const t = issueToken(ws.id, `t${i}`, '', [{ type: 'DATASOURCES:READ', resource: `ds${i % 50}` }], 'user');
      batch.push({ op: 'put' as const, collection: 'tokens' as const, id: t.record.id, value: t.record });
    }
    await store.commit(batch);
    const admin = issueToken(ws.id, 'admin token', '', [{ type: 'ADMIN' }], 'admin');
    const reader = issueToken(ws.id, 'reader', '', [{ type: 'DATASOURCES:READ', resource: 'events' }], 'user');
    const rt = configureAuth(store, { dataDir: dir, auth: defaultConfig().auth });
    await rt.ready;
    await store.commit([
      { op: 'put', collection: 'tokens', id: admin.record.id, value: rt.sealAdmin(admin.record, admin.token) },
      { op: 'put', collection: 'tokens', id: reader.record.id, value: reader.record },
    ]);

    // Baseline: SHA-256 of a secret + Map lookup.
    const secret = randomBytes(32).toString('base64url');
    const map = new Map<string, string>(batch.map((m) => [m.id, m.value.secretHash]));
    const someId = batch[1234]!.id;
    let sink = 0;
    const baseline = timeSync(200_000, () => {
      const h = createHash('sha256').update(secret).digest('hex');
      sink += (map.get(someId)?.length ?? 0) + h.length;
    });

    const staticReq = fakeRequest(reader.token);
    const staticUs = timeSync(200_000, () => {
      sink += authenticate(store, staticReq).scopes.length;
    });

    const exp = Math.floor(Date.now() / 1000) + 3600;
    const claims = { workspace_id: ws.id, name: 'front', exp, scopes: [{ type: 'DATASOURCES:READ', resource: 'events' }, { type: 'PIPES:READ', resource: 'top', fixed_params: { org: 'acme' } }] };
    const hsJwt = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(admin.token));
    const signing = await rt.currentSigningKey('bench');
    const esJwt = await new SignJWT(claims).setProtectedHeader({ alg: signing.record.alg, kid: signing.record.kid }).sign(signing.key);
    await resolveTokenAsync(rt, hsJwt, Date.now());
    await resolveTokenAsync(rt, esJwt, Date.now());
    const hsReq = fakeRequest(hsJwt);
    const esReq = fakeRequest(esJwt);
    const jwtCachedUs = timeSync(200_000, () => {
      sink += authenticate(store, hsReq).scopes.length;
    });
    const esCachedUs = timeSync(200_000, () => {
      sink += authenticate(store, esReq).scopes.length;
    });
    const hsFirstUs = await timeAsync(5_000, async () => {
      rt.jwtCache.clear();
      sink += (await resolveTokenAsync(rt, hsJwt, Date.now())).scopes.length;
    });
    const esFirstUs = await timeAsync(2_000, async () => {
      rt.jwtCache.clear();
      sink += (await resolveTokenAsync(rt, esJwt, Date.now())).scopes.length;
    });

    const row = (name: string, us: number, target?: number): Record<string, unknown> => ({
      bench: 'auth',
      case: name,
      us_per_request: Number(us.toFixed(2)),
      ratio_to_baseline: Number((us / baseline).toFixed(2)),
      ...(target === undefined ? {} : { target_us: target, within_target: us <= target }),
    });
    const rows = [
      row('baseline: sha256 + Map.get', baseline),
      row('static token: authenticate()', staticUs, STATIC_TARGET_US),
      row('JWT HS256, cached: authenticate()', jwtCachedUs, JWT_TARGET_US),
      row(`JWT ${signing.record.alg}, cached: authenticate()`, esCachedUs, JWT_TARGET_US),
      row('JWT HS256, first verification (jose, keys cached)', hsFirstUs, JWT_TARGET_US),
      row(`JWT ${signing.record.alg}, first verification (jose, keys cached)`, esFirstUs),
    ];
    for (const r of rows) console.log(JSON.stringify(r));
    if (sink === -1) console.log('unreachable');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchAuth();
}
