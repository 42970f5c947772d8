/**
 * Unit tests of the authentication pieces: sealing, rate limiter, key rotation plan,
 * JWT claim validation and verification (with jose), per-tenant key lookup, the
 * JWT cache, fixed params, and the audit queue.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import { SignJWT } from 'jose';
import { loadMasterKey, seal, unseal, SealError } from '../../src/auth/seal.js';
import { MemoryRateLimiter } from '../../src/auth/ratelimit.js';
import { currentKey, keyVerifies, planKeyring, publicJwks, type SigningKeyRecord } from '../../src/auth/keys.js';
import { readJwtScopes, verifyJwt, type JwtKeys, type CryptoKey } from '../../src/auth/jwt.js';
import { HttpError, badRequest } from '../../src/server/errors.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { configureAuth } from '../../src/auth/runtime.js';
import { fixedParamsFor, resolveToken, resolveTokenAsync, type AuthContext } from '../../src/auth/context.js';
import { issueToken } from '../../src/auth/tokens.js';
import { newTenant, newWorkspace } from '../../src/tenancy/model.js';
import { defaultConfig } from '../../src/server/config.js';
import { AuditQueue } from '../../src/ops/audit.js';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'colibri-auth-unit-'));

describe('seal', () => {
  it('creates a 0600 master key once and round-trips secrets bound to their context', () => {
    const dir = tmp();
    try {
      const key = loadMasterKey(dir);
      assert.equal(statSync(path.join(dir, 'master.key')).mode & 0o777, 0o600);
      assert.deepEqual(loadMasterKey(dir), key, 'the same key on the next start');
      const sealed = seal(key, 'p.routing.secret', 'ctx-a');
      assert.ok(!sealed.includes('secret'));
      assert.equal(unseal(key, sealed, 'ctx-a').toString(), 'p.routing.secret');
      assert.throws(() => unseal(key, sealed, 'ctx-b'), SealError, 'another context');
      const parts = sealed.split('.');
      parts[2] = Buffer.from('tampered').toString('base64url');
      assert.throws(() => unseal(key, parts.join('.'), 'ctx-a'), SealError, 'tampered');
      assert.throws(() => unseal(Buffer.alloc(32, 1), sealed, 'ctx-a'), SealError, 'another master key');
      chmodSync(path.join(dir, 'master.key'), 0o644);
      assert.throws(() => loadMasterKey(dir), /must not be readable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MemoryRateLimiter', () => {
  it('counts per key in fixed windows', () => {
    const rl = new MemoryRateLimiter(3);
    const t = 10_000;
    assert.deepEqual(rl.hitSync('a', 2, 1000, t), { allowed: true, limit: 2, remaining: 1, resetMs: 1000 });
    assert.equal(rl.hitSync('a', 2, 1000, t + 10).remaining, 0);
    const refused = rl.hitSync('a', 2, 1000, t + 500);
    assert.equal(refused.allowed, false);
    assert.equal(refused.resetMs, 500);
    assert.equal(rl.hitSync('b', 2, 1000, t + 500).allowed, true, 'keys are independent');
    assert.equal(rl.hitSync('a', 2, 1000, t + 1000).allowed, true, 'a new window');
    for (let i = 0; i < 10; i++) rl.hitSync(`k${i}`, 1, 1000, t + 2000);
    assert.equal(rl.hitSync('k9', 1, 1000, t + 2000).allowed, false, 'bounded memory keeps recent keys');
  });
});

describe('tenant key rotation plan', () => {
  const policy = { algorithm: 'ES256' as const, rotationMs: 10_000, graceMs: 5_000 };
  const mk = Buffer.alloc(32, 7);
  it('creates, rotates on schedule, keeps the previous key for the grace period, then drops it', () => {
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    const first = planKeyring('acme', [], policy, mk, t0)!;
    assert.equal(first.record.keys.length, 1);
    let keys: readonly SigningKeyRecord[] = first.record.keys;
    const k1 = currentKey(keys)!;
    assert.equal(planKeyring('acme', keys, policy, mk, t0 + 9_999), undefined, 'not due yet');
    const rot = planKeyring('acme', keys, policy, mk, t0 + 10_000)!;
    assert.equal(rot.retired?.kid, k1.kid);
    keys = rot.record.keys;
    const k2 = currentKey(keys)!;
    assert.notEqual(k2.kid, k1.kid);
    assert.ok(keyVerifies(keys.find((k) => k.kid === k1.kid)!, t0 + 14_999, policy.graceMs), 'within grace');
    assert.deepEqual(publicJwks([keys], t0 + 14_999, policy.graceMs).map((j) => j.kid), [k1.kid, k2.kid]);
    assert.ok(!keyVerifies(keys.find((k) => k.kid === k1.kid)!, t0 + 15_000, policy.graceMs), 'after grace');
    const drop = planKeyring('acme', keys, policy, mk, t0 + 15_000)!;
    assert.deepEqual(drop.removed.map((k) => k.kid), [k1.kid]);
    assert.deepEqual(drop.record.keys.map((k) => k.kid), [k2.kid]);
    assert.ok(publicJwks([drop.record.keys], t0 + 15_000, policy.graceMs).every((j) => j.d === undefined && j.alg === 'ES256'));
    const ed = planKeyring('acme', drop.record.keys, { ...policy, algorithm: 'EdDSA' }, mk, t0 + 15_001)!;
    assert.equal(currentKey(ed.record.keys)!.alg, 'EdDSA', 'a new algorithm rotates at once');
  });
});

describe('JWT scopes', () => {
  const bad = (why: string): HttpError => badRequest(why);
  it('reads PIPES:READ fixed_params and DATASOURCES:READ filters', () => {
    const { scopes, fixedParams } = readJwtScopes(
      [
        { type: 'PIPES:READ', resource: 'top', fixed_params: { org: 'acme', ids: [1, 2], on: true } },
        { type: 'DATASOURCES:READ', resource: 'events', filter: "org = 'acme'" },
        { type: 'DATASOURCES:READ', resource: 'other' },
      ],
      bad,
    );
    assert.deepEqual(scopes, [{ type: 'PIPES:READ', resource: 'top' }, { type: 'DATASOURCES:READ', resource: 'events', filter: "org = 'acme'" }, { type: 'DATASOURCES:READ', resource: 'other' }]);
    assert.deepEqual({ ...fixedParams.top }, { org: 'acme', ids: [1, 2], on: true });
  });
  it('refuses other scope types, bad names, bad params and filters the compiler rejects', () => {
    const cases: unknown[] = [
      'x',
      [{ type: 'ADMIN' }],
      [{ type: 'DATASOURCES:APPEND', resource: 'e' }],
      [{ type: 'PIPES:READ', resource: 'a b' }],
      [{ type: 'PIPES:READ', resource: 'p', fixed_params: { 'a-b': 1 } }],
      [{ type: 'PIPES:READ', resource: 'p', fixed_params: { a: { nested: 1 } } }],
      [{ type: 'PIPES:READ', resource: 'p', filter: '1' }],
      [{ type: 'DATASOURCES:READ', resource: 'e', fixed_params: { a: 1 } }],
      [{ type: 'DATASOURCES:READ', resource: 'e', filter: '1) UNION ALL SELECT * FROM e WHERE (1' }],
      [{ type: 'DATASOURCES:READ', resource: 'e', filter: 'k IN (SELECT k FROM x)' }],
      [{ type: 'DATASOURCES:READ', resource: 'e', extra: 1 }],
    ];
    for (const c of cases) assert.throws(() => readJwtScopes(c, bad), HttpError, JSON.stringify(c));
  });
});

describe('verifyJwt', () => {
  const secret = new TextEncoder().encode('p.admin.token');
  const hsKey = (): Promise<CryptoKey> => webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const keys: JwtKeys<string> = {
    hsKey: async (ws) => (ws === 'ws1' ? { key: await hsKey(), ref: 'hs' } : undefined),
    tenantKey: async () => undefined,
  };
  const claims = { workspace_id: 'ws1', name: 'n', scopes: [{ type: 'DATASOURCES:READ', resource: 'e' }], limits: { rps: 5 } };
  const t = Math.floor(Date.now() / 1000);
  const status = async (token: string): Promise<number> => {
    try {
      await verifyJwt(token, keys, Date.now());
      return 200;
    } catch (err) {
      return (err as HttpError).status;
    }
  };
  it('verifies HS256 and reads the grant', async () => {
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(t + 60).sign(secret);
    const { grant, alg, ref } = await verifyJwt(token, keys, Date.now());
    assert.equal(alg, 'HS256');
    assert.equal(ref, 'hs');
    assert.deepEqual(grant.limits, { rps: 5 });
    assert.equal(grant.expMs, (t + 60) * 1000);
  });
  it('refuses none, other algorithms, expiry (403), nbf, unknown workspaces and kids', async () => {
    const p = Buffer.from(JSON.stringify({ ...claims, exp: t + 60 })).toString('base64url');
    assert.equal(await status(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`), 401);
    assert.equal(await status(await new SignJWT(claims).setProtectedHeader({ alg: 'HS384' }).setExpirationTime(t + 60).sign(secret)), 401);
    assert.equal(await status(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(t - 1).sign(secret)), 403);
    assert.equal(await status(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(t + 60).setNotBefore(t + 30).sign(secret)), 401);
    assert.equal(await status(await new SignJWT({ ...claims, workspace_id: 'ws2' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(t + 60).sign(secret)), 401);
    assert.equal(await status(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k' }).setExpirationTime(t + 60).sign(secret)), 401);
    assert.equal(await status('eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ'), 401);
  });
});

describe('auth runtime', () => {
  it('finds tenant keys only for workspaces of that tenant, and caches verified JWTs until they expire or their key changes', async () => {
    const dir = tmp();
    const store = new MemoryStateStore();
    await store.open();
    try {
      const a = newTenant('a', 'A', { kind: 'embedded' });
      const b = newTenant('b', 'B', { kind: 'embedded' });
      const wa = newWorkspace('a', 'w');
      const wb = newWorkspace('b', 'w');
      await store.commit([
        { op: 'put', collection: 'tenants', id: 'a', value: a },
        { op: 'put', collection: 'tenants', id: 'b', value: b },
        { op: 'put', collection: 'workspaces', id: wa.id, value: wa },
        { op: 'put', collection: 'workspaces', id: wb.id, value: wb },
      ]);
      const admin = issueToken(wa.id, 'admin token', '', [{ type: 'ADMIN' }], 'admin');
      const settings = { dataDir: dir, auth: defaultConfig().auth };
      const rt = configureAuth(store, settings);
      assert.equal(configureAuth(store, settings), rt, 'one runtime per store');
      await rt.ready;
      await store.commit([{ op: 'put', collection: 'tokens', id: admin.record.id, value: rt.sealAdmin(admin.record, admin.token) }]);
      const ka = await rt.currentSigningKey('a');
      const now = Date.now();
      assert.ok(await rt.tenantKey(wa.id, ka.record.kid, now));
      assert.equal(await rt.tenantKey(wb.id, ka.record.kid, now), undefined, "tenant a's key does not verify tenant b's workspaces");

      const jwt = await new SignJWT({ workspace_id: wa.id, name: 'n', scopes: [{ type: 'PIPES:READ', resource: 'p', fixed_params: { org: 'x' } }] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(now / 1000) + 2)
        .sign(new TextEncoder().encode(admin.token));
      assert.throws(() => resolveToken(store, jwt, now), /Invalid token/, 'not verified yet');
      const ctx: AuthContext = await resolveTokenAsync(rt, jwt, now);
      assert.deepEqual({ ...fixedParamsFor(ctx, 'p') }, { org: 'x' });
      assert.deepEqual(fixedParamsFor(ctx, 'other'), {});
      assert.equal(resolveToken(store, jwt, now), ctx, 'served from the cache');
      assert.throws(() => resolveToken(store, jwt, now + 3000), (e: HttpError) => e.status === 403, 'expired in the cache too');
      assert.equal(resolveToken(store, admin.token, now).isAdmin, true, 'static tokens');
      await store.commit([{ op: 'put', collection: 'tokens', id: admin.record.id, value: { ...admin.record, secretHash: '00' } }]);
      assert.throws(() => resolveToken(store, jwt, now), /Invalid token/, 'admin token changed: cached JWT dies');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('AuditQueue', () => {
  it('is bounded, drains oldest first, and isolates listeners', () => {
    const q = new AuditQueue(2);
    const seen: string[] = [];
    const off = q.subscribe((e) => seen.push(e.target.id));
    q.subscribe(() => {
      throw new Error('broken listener');
    });
    for (const id of ['1', '2', '3']) q.emit({ time: '', kind: 'token.created', tenant: 't', actor: { kind: 'system' }, target: { id } });
    assert.equal(q.dropped, 1);
    assert.deepEqual(seen, ['1', '2', '3']);
    assert.deepEqual(q.drain().map((e) => e.target.id), ['2', '3']);
    off();
    q.emit({ time: '', kind: 'token.deleted', tenant: 't', actor: { kind: 'system' }, target: { id: '4' } });
    assert.deepEqual(seen, ['1', '2', '3']);
  });
});
