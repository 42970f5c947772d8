/**
 * Unit tests of the SSO building blocks: claim mapping, config validation, the
 * session cookie format (jose interop both ways), sessionContext (workspace,
 * grants, CSRF, revocation) and the token-exchange subset rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactDecrypt, jwtVerify, CompactEncrypt, SignJWT } from 'jose';
import type { Request } from 'express';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { mapClaims, matches, claimAt } from '../../src/auth/sso/claims.js';
import { parseSso, type MappingRule } from '../../src/auth/sso/config.js';
import { ensureSessionKeys, newSessionClaims, revoke, seal, sessionContext, unseal, SESSION_COOKIE } from '../../src/auth/sso/session.js';
import { subsetOfGrants } from '../../src/auth/sso/workspace-token.js';
import { newTenant, newWorkspace } from '../../src/tenancy/model.js';

const fail = (m: string): never => {
  throw new Error(m);
};
const rules = (r: unknown): MappingRule[] => parseSso({ saml: { entryPoint: 'https://idp/x', idpCerts: ['A'.repeat(200)] }, rules: r }, 't', {}, fail, ['default', 'fin']).rules;

test('claim paths, conditions and combinators', () => {
  const c = { groups: ['a', 'b'], 'https://x.io/roles': ['r'], realm_access: { roles: ['fin'] }, email: 'Ana@Acme.com', dept: 'data-eng', scope: 'x y' };
  assert.deepEqual(claimAt(c, 'realm_access.roles'), ['fin']);
  assert.deepEqual(claimAt(c, 'https://x.io/roles'), ['r']);
  assert.equal(matches({ claim: 'groups', contains: 'b' }, c), true);
  assert.equal(matches({ claim: 'groups', contains: 'c' }, c), false);
  assert.equal(matches({ claim: 'scope', contains: 'y' }, c), true);
  assert.equal(matches({ claim: 'dept', equals: 'data-eng' }, c), true);
  assert.equal(matches({ claim: 'groups', equals: 'a' }, c), false, 'equals on a 2-element array');
  assert.equal(matches({ claim: 'dept', regex: '^data-' }, c), true);
  assert.equal(matches({ emailDomain: ['acme.com'] }, c), true);
  assert.equal(matches({ emailDomain: ['acme.com'] }, { ...c, email_verified: false }), false, 'unverified e-mail');
  assert.equal(matches({ all: [{ claim: 'groups', contains: 'a' }, { not: { claim: 'groups', contains: 'b' } }] }, c), false);
  assert.equal(matches({ any: [{ claim: 'nope', exists: true }, { claim: 'realm_access.roles', contains: 'fin' }] }, c), true);
});

test('rules: ordered, combined, stop, no match, overage', () => {
  const r = rules([
    { name: 'admins', when: { claim: 'groups', contains: 'adm' }, grants: [{ workspace: '*', scopes: ['ADMIN'] }], stop: true },
    { name: 'a', when: { claim: 'groups', contains: 'a' }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:p'] }] },
    { name: 'b', when: { claim: 'groups', contains: 'b' }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:p', 'DATASOURCES:READ:d'] }] },
  ]);
  assert.deepEqual(mapClaims({ groups: ['a', 'b'] }, r), { ok: true, grants: [{ workspace: 'default', scopes: ['PIPES:READ:p', 'DATASOURCES:READ:d'] }], matched: ['a', 'b'] });
  const adm = mapClaims({ groups: ['adm', 'a'] }, r);
  assert.ok(adm.ok && adm.grants.length === 1 && adm.grants[0]!.workspace === '*');
  const none = mapClaims({ groups: ['z'] }, r);
  assert.ok(!none.ok && none.reason === 'no_rule_matched');
  const over = mapClaims({ _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph' } } }, r);
  assert.ok(!over.ok && over.reason === 'groups_overage');
});

test('config errors name the key', () => {
  assert.throws(() => rules([{ when: {}, grants: [{ workspace: 'nope', scopes: ['ADMIN'] }] }]), /t\.rules\[0\]\.grants\[0\]\.workspace: 'nope' is not a workspace/);
  assert.throws(() => rules([{ grants: [{ workspace: 'default', scopes: ['PIPES:EAT:x'] }] }]), /t\.rules\[0\]\.grants\[0\]\.scopes\[0\]/);
  assert.throws(() => rules([{ when: { claim: 'g', regex: '(' }, grants: [{ workspace: 'default', scopes: ['ADMIN'] }] }]), /t\.rules\[0\]\.when\.regex/);
  assert.throws(() => parseSso({ oidc: { issuer: 'http://idp', clientId: 'c' } }, 't', {}, fail, ['default']), /t\.oidc\.issuer: an http: issuer needs allowInsecureHttp/);
  assert.throws(() => parseSso({}, 't', {}, fail, ['default']), /t: give oidc, saml, or both/);
  assert.throws(() => parseSso({ oidc: { issuer: 'https://idp', clientId: 'c', clientSecretEnv: 'NOPE_X' } }, 't', {}, fail, ['default']), /clientSecretEnv: environment variable NOPE_X is not set/);
  assert.throws(() => parseSso({ saml: { entryPoint: 'https://i', idpCerts: ['A'.repeat(200)] }, rules: [{ grants: [{ scopes: ['ADMIN'] }] }] }, 'operators', {}, fail, 'operators'), /operators get operator scopes only/);
});

async function storeWithTenant(): Promise<MemoryStateStore> {
  const store = new MemoryStateStore();
  await store.open();
  const t = newTenant('acme', 'Acme', { kind: 'embedded' });
  await store.commit([
    { op: 'put', collection: 'tenants', id: 'acme', value: t },
    { op: 'put', collection: 'workspaces', id: 'w1', value: { ...newWorkspace('acme', 'default'), id: 'w1' } },
    { op: 'put', collection: 'workspaces', id: 'w2', value: { ...newWorkspace('acme', 'fin'), id: 'w2' } },
  ]);
  return store;
}

function req(cookie: string | undefined, method = 'GET', headers: Record<string, string> = {}): Request {
  return { method, headers: { ...(cookie === undefined ? {} : { cookie: `${SESSION_COOKIE}=${cookie}` }), ...headers }, query: {} } as unknown as Request;
}

test('session cookie: jose writes what node:crypto reads, and the reverse; tampering and expiry refused', async () => {
  const store = await storeWithTenant();
  const keys = await ensureSessionKeys(store);
  const token = await seal(keys, 'session', { hello: 'world' }, 60);
  const { plaintext, protectedHeader } = await compactDecrypt(token, keys.enc);
  assert.deepEqual(protectedHeader, { alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: keys.kid });
  const inner = await jwtVerify(new TextDecoder().decode(plaintext), keys.sig, { issuer: 'colibri', audience: 'session' });
  assert.equal(inner.payload.hello, 'world');
  assert.equal(unseal<{ hello: string }>(keys, 'session', token)?.hello, 'world');
  assert.equal(unseal(keys, 'login', token), undefined, 'another audience');
  const flipped = token.slice(0, -3) + (token.at(-3) === 'A' ? 'B' : 'A') + token.slice(-2);
  assert.equal(unseal(keys, 'session', flipped), undefined, 'tampered tag');
  assert.equal(unseal(keys, 'session', token, Math.floor(Date.now() / 1000) + 61), undefined, 'expired');
  // Signed with another key, encrypted with ours: refused.
  const now = Math.floor(Date.now() / 1000);
  const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: keys.kid }).setIssuer('colibri').setAudience('session').setIssuedAt(now).setExpirationTime(now + 60).sign(new Uint8Array(32));
  const wrapped = await new CompactEncrypt(new TextEncoder().encode(forged)).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: keys.kid }).encrypt(keys.enc);
  assert.equal(unseal(keys, 'session', wrapped), undefined);
});

test('sessionContext: workspace choice, scopes, CSRF, revocation', async () => {
  const store = await storeWithTenant();
  const keys = await ensureSessionKeys(store);
  const claims = newSessionClaims({ sub: 'ana', ten: 'acme', idp: 'oidc', sid: 'op-sid', grants: [{ workspace: 'default', scopes: ['PIPES:READ:p'] }, { workspace: 'fin', scopes: ['DATASOURCES:READ:l'] }] });
  const cookie = await seal(keys, 'session', { ...claims }, 60);
  assert.equal(sessionContext(store, req(undefined)), undefined);
  assert.equal(sessionContext(store, req('garbage')), undefined);
  assert.throws(() => sessionContext(store, req(cookie)), /several workspaces/);
  const ctx = sessionContext(store, req(cookie, 'GET', { 'x-colibri-workspace': 'fin' }))!;
  assert.equal(ctx.workspace.name, 'fin');
  assert.deepEqual(ctx.scopes, [{ type: 'DATASOURCES:READ', resource: 'l' }]);
  assert.equal(ctx.isAdmin, false);
  assert.throws(() => sessionContext(store, req(cookie, 'POST', { 'x-colibri-workspace': 'fin' })), /CSRF/);
  assert.ok(sessionContext(store, req(cookie, 'POST', { 'x-colibri-workspace': 'fin', 'x-colibri-csrf': claims.csrf })));
  await revoke(store, ['sid:acme:op-sid'], Math.floor(Date.now() / 1000) + 60);
  assert.equal(sessionContext(store, req(cookie, 'GET', { 'x-colibri-workspace': 'fin' })), undefined, 'revoked by sid');
});

test('token exchange scopes are a subset of the grants', () => {
  const g = [{ workspace: 'default', scopes: ['PIPES:READ:p'] }, { workspace: '*', scopes: ['DATASOURCES:READ:d'] }];
  assert.deepEqual(subsetOfGrants(g, 'default', undefined), { ok: true, scopes: ['PIPES:READ:p', 'DATASOURCES:READ:d'] });
  assert.deepEqual(subsetOfGrants(g, 'default', ['PIPES:READ:p']), { ok: true, scopes: ['PIPES:READ:p'] });
  assert.deepEqual(subsetOfGrants(g, 'default', ['ADMIN']), { ok: false, denied: 'ADMIN' });
  assert.deepEqual(subsetOfGrants(g, 'other', ['PIPES:READ:p']), { ok: false, denied: 'PIPES:READ:p' });
  assert.deepEqual(subsetOfGrants([{ workspace: '*', scopes: ['ADMIN'] }], 'x', ['TOKENS']), { ok: true, scopes: ['TOKENS'] });
});
