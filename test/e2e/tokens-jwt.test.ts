/**
 * JWTs end to end: Tinybird-style HS256 tokens signed with the workspace admin token,
 * JWTs issued by the Tokens API (HS256, and ES256 with the tenant key published at
 * /.well-known/jwks.json), the usual attacks, key rotation with its grace period, and
 * rate limits (per JWT and per workspace) with their headers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';

const ROTATION_S = 6;
const GRACE_S = 6;
const now = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const SCHEMA = '`k` UInt32, `org` String';

describe('JWTs', () => {
  let server: Colibri;
  let admin: Api;
  let dataDir: string;
  let wsId: string;
  let otherWsId: string;
  let otherToken: string;

  const sign = (claims: Record<string, unknown>, key: string = admin.token!, header: Record<string, unknown> = {}): Promise<string> =>
    new SignJWT({ workspace_id: wsId, name: 'app', exp: now() + 600, scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }], ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header })
      .sign(new TextEncoder().encode(key));

  const reads = async (token: string): Promise<number> => (await admin.withToken(token).post('/v0/sql', 'SELECT count() AS c FROM j FORMAT JSON')).status;

  const issue = async (body: Record<string, unknown>, query = ''): Promise<{ status: number; json: any; text: string }> =>
    admin.request('POST', `/v0/tokens?expiration_time=${now() + 600}${query}`, JSON.stringify(body), { 'content-type': 'application/json' });

  before(async () => {
    dataDir = tempDir('jwt');
    server = await startColibri({
      dataDir,
      config: {
        tenants: [
          { slug: 'local', workspaces: ['default', 'other'] },
          { slug: 'acme', workspaces: ['main'] },
        ],
        auth: { keyRotationSeconds: ROTATION_S, keyGraceSeconds: GRACE_S },
      },
    });
    admin = new Api(server.url, server.token);
    wsId = (await admin.get('/v0/workspace')).json.id;
    otherToken = readFileSync(path.join(dataDir, 'tokens', 'local.other.token'), 'utf8').trim();
    otherWsId = (await admin.withToken(otherToken).get('/v0/workspace')).json.id;
    const c = await admin.form('/v0/datasources', { name: 'j', schema: SCHEMA });
    assert.equal(c.status, 200, c.text);
    await admin.post('/v0/events?name=j&wait=true', '{"k":1,"org":"a"}\n{"k":2,"org":"b"}\n');
  });

  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  it('GET /v0/workspace gives the workspace_id to its admin only', async () => {
    assert.match(wsId, /^[0-9a-f-]{36}$/);
    assert.notEqual(wsId, otherWsId);
    const t = await admin.post('/v0/tokens?name=notadmin&scope=TOKENS');
    assert.equal((await admin.withToken(t.json.token).get('/v0/workspace')).status, 403);
    assert.equal((await admin.withToken(undefined).get('/v0/workspace')).status, 401);
  });

  it('accepts a Tinybird-style HS256 JWT signed with the admin token, with its scopes only', async () => {
    const t = await sign({ scopes: [{ type: 'DATASOURCES:READ', resource: 'j', filter: "org = 'a'" }] });
    const api = admin.withToken(t);
    const r = await api.post('/v0/sql', 'SELECT count() AS c FROM j FORMAT JSON');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data, [{ c: 1 }]);
    assert.equal((await api.get('/v0/datasources/j')).status, 200);
    assert.equal((await api.get('/v0/tokens')).status, 403);
    assert.equal((await api.post('/v0/events?name=j&wait=true', '{"k":3,"org":"a"}\n')).status, 403);
    assert.equal((await api.get(`/v0/sql?q=${encodeURIComponent('SELECT 1 FROM j')}`)).status, 200, 'GET with the token in the header');
    assert.equal((await admin.withToken(undefined).get(`/v0/sql?q=${encodeURIComponent('SELECT 1 FROM j')}&token=${t}`)).status, 200, '?token=');
  });

  it('refuses alg none, tampered payloads, expired, not-yet-valid and incomplete JWTs', async () => {
    const good = await sign({});
    assert.equal(await reads(good), 200);
    const [h, p, s] = good.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const cases: Array<[string, string, number]> = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, 401],
      ['alg none with signature', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`, 401],
      ['tampered scopes', `${h}.${b64({ ...payload, scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }, { type: 'PIPES:READ', resource: 'x' }] })}.${s}`, 401],
      ['tampered exp', `${h}.${b64({ ...payload, exp: payload.exp + 1 })}.${s}`, 401],
      ['signature of another token', `${h}.${p}.${(await sign({ name: 'other' })).split('.')[2]}`, 401],
      ['expired', await sign({ exp: now() - 5 }), 403],
      ['not yet valid', await sign({ nbf: now() + 3600 }), 401],
      ['no exp', await sign({ exp: undefined }), 401],
      ['no name', await sign({ name: undefined }), 401],
      ['no workspace', await sign({ workspace_id: undefined }), 401],
      ['ADMIN scope', await sign({ scopes: [{ type: 'ADMIN' }] }), 401],
      ['write scope', await sign({ scopes: [{ type: 'DATASOURCES:APPEND', resource: 'j' }] }), 401],
      ['HS512', await new SignJWT({ ...payload }).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(admin.token!)), 401],
      ['signed with a wrong secret', await sign({}, 'p.not-the-admin-token'), 401],
      ['signed with the secret part only', await sign({}, admin.token!.split('.')[2]!), 401],
    ];
    for (const [label, token, status] of cases) assert.equal(await reads(token), status, label);
    assert.equal(await reads(good), 200, 'the good token still works');
  });

  it('refuses a JWT for another workspace (signed with the wrong admin token, or claiming another workspace)', async () => {
    assert.equal(await reads(await sign({ workspace_id: otherWsId })), 401, 'claims other, signed with ours');
    assert.equal(await reads(await sign({}, otherToken)), 401, 'claims ours, signed with the other admin token');
    const forOther = await sign({ workspace_id: otherWsId }, otherToken);
    const r = await admin.withToken(forOther).get('/v0/datasources');
    assert.equal(r.status, 200, 'valid for the other workspace');
    assert.deepEqual(r.json.datasources, [], 'which sees none of ours');
    assert.equal((await admin.withToken(forOther).post('/v0/sql', 'SELECT count() FROM j')).status, 403);
    assert.equal(await reads(await sign({ workspace_id: '00000000-0000-0000-0000-000000000000' })), 401);
  });

  it('issues JWTs through the Tokens API: HS256 (Tinybird) and ES256 verifiable with the published JWKS', async () => {
    const hs = await issue({ name: 'front', scopes: [{ type: 'DATASOURCES:READ', resource: 'j', filter: "org = 'b'" }], limits: { rps: 100 } });
    assert.equal(hs.status, 200, hs.text);
    assert.equal(hs.json.algorithm, 'HS256');
    const hsVerified = await jwtVerify(hs.json.token, new TextEncoder().encode(admin.token!), { algorithms: ['HS256'] });
    assert.equal(hsVerified.payload.workspace_id, wsId);
    assert.deepEqual(hsVerified.payload.limits, { rps: 100 });
    const rows = await admin.withToken(hs.json.token).post('/v0/sql', 'SELECT org FROM j FORMAT JSON');
    assert.deepEqual(rows.json.data, [{ org: 'b' }]);

    const es = await issue({ name: 'front-es', scopes: [{ type: 'PIPES:READ', resource: 'p', fixed_params: { org: 'a' } }, { type: 'DATASOURCES:READ', resource: 'j' }] }, '&algorithm=ES256');
    assert.equal(es.status, 200, es.text);
    assert.equal(es.json.algorithm, 'ES256');
    const jwks = await admin.withToken(undefined).get('/.well-known/jwks.json');
    assert.equal(jwks.status, 200);
    assert.ok(jwks.json.keys.every((k: JWK) => k.d === undefined), 'no private key material');
    const { payload, protectedHeader } = await jwtVerify(es.json.token, createLocalJWKSet(jwks.json), { algorithms: ['ES256'] });
    assert.equal(protectedHeader.kid, es.json.kid);
    assert.deepEqual(payload.scopes, [{ type: 'PIPES:READ', resource: 'p', fixed_params: { org: 'a' } }, { type: 'DATASOURCES:READ', resource: 'j' }]);
    assert.equal(await reads(es.json.token), 200);

    const acme = await admin.withToken(undefined).get('/.well-known/jwks.json?tenant=acme');
    assert.ok(acme.json.keys.length >= 1);
    assert.ok(!acme.json.keys.some((k: JWK) => k.kid === es.json.kid), 'tenant keys are per tenant');

    assert.equal((await issue({ name: 'x', scopes: [{ type: 'ADMIN' }] })).status, 400);
    assert.equal((await issue({ name: 'x', scopes: [] })).status, 400);
    assert.equal((await issue({ name: 'x', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }, '&algorithm=RS256')).status, 400);
    const past = await admin.request('POST', `/v0/tokens?expiration_time=${now() - 1}`, JSON.stringify({ name: 'x', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }), { 'content-type': 'application/json' });
    assert.equal(past.status, 400);
    const reader = await admin.post('/v0/tokens?name=jwt_reader&scope=DATASOURCES:READ:j');
    const denied = await admin.withToken(reader.json.token).request('POST', `/v0/tokens?expiration_time=${now() + 60}`, JSON.stringify({ name: 'x', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }), { 'content-type': 'application/json' });
    assert.equal(denied.status, 403, 'issuing JWTs needs TOKENS or ADMIN');
  });

  it('refuses key confusion (HS256 with the public key, RS256/ES256 with foreign keys) and unknown kids', async () => {
    const es = await issue({ name: 'conf', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }, '&algorithm=ES256');
    const kid = es.json.kid as string;
    const jwks = (await admin.withToken(undefined).get('/.well-known/jwks.json')).json;
    const jwk = jwks.keys.find((k: JWK) => k.kid === kid) as JWK;
    const pem = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
    const claims = { workspace_id: wsId, name: 'evil', exp: now() + 600, scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] };
    const hsWith = (secret: string, header: Record<string, unknown>): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header }).sign(new TextEncoder().encode(secret));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cases: Array<[string, string]> = [
      ['HS256 keyed with the PEM public key, with kid', await hsWith(pem, { kid })],
      ['HS256 keyed with the PEM public key, no kid', await hsWith(pem, {})],
      ['HS256 keyed with the JWK JSON, with kid', await hsWith(JSON.stringify(jwk), { kid })],
      ['RS256 with a foreign key and our kid', await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(rsa.privateKey)],
      ['ES256 with a foreign key and our kid', await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(ec.privateKey)],
      ['ES256 with an unknown kid', await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'unknown-kid' }).sign(ec.privateKey)],
      ['ES256 without kid', await new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(ec.privateKey)],
      ['embedded jwk header', await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', jwk: ec.publicKey.export({ format: 'jwk' }) as JWK }).sign(ec.privateKey)],
    ];
    for (const [label, token] of cases) assert.equal(await reads(token), 401, label);
    assert.equal(await reads(es.json.token), 200);
  });

  it('kills HS256 JWTs at once when the admin token is refreshed (cached or not)', async () => {
    const t = await sign({});
    assert.equal(await reads(t), 200, 'verified and cached');
    const r = await admin.post('/v0/tokens/admin%20token/refresh');
    assert.equal(r.status, 200, r.text);
    assert.equal(await reads(t), 401, 'signed with the old admin token');
    assert.equal((await admin.get('/v0/tokens')).status, 401, 'the old admin token is dead');
    admin = admin.withToken(r.json.token);
    assert.equal(readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim(), r.json.token, 'admin.token follows');
    assert.equal(await reads(await sign({})), 200, 'JWTs signed with the new admin token work');
    const issued = await issue({ name: 'after', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] });
    assert.equal(await reads(issued.json.token), 200);
  });

  it('rotates tenant keys on schedule; the previous key verifies during its grace period only', async () => {
    const es = await issue({ name: 'rot', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }, '&algorithm=ES256');
    assert.equal(es.status, 200, es.text);
    const kid = es.json.kid as string;
    const kids = async (): Promise<string[]> => (await admin.withToken(undefined).get('/.well-known/jwks.json?tenant=local')).json.keys.map((k: JWK) => k.kid);
    assert.equal(await reads(es.json.token), 200);
    // Wait for the rotation: a new key next to ours.
    let deadline = Date.now() + (ROTATION_S + 5) * 1000;
    while ((await kids()).length < 2 || !(await kids()).includes(kid)) {
      assert.ok(Date.now() < deadline, `no rotation: ${(await kids()).join(',')}`);
      await sleep(200);
    }
    const rotatedAt = Date.now();
    assert.equal(await reads(es.json.token), 200, 'within the grace period');
    const fresh = await issue({ name: 'rot2', scopes: [{ type: 'DATASOURCES:READ', resource: 'j' }] }, '&algorithm=ES256');
    assert.notEqual(fresh.json.kid, kid, 'new tokens use the new key');
    // After the grace period the old key is gone from the JWKS and its tokens die.
    deadline = rotatedAt + (GRACE_S + 5) * 1000;
    while ((await kids()).includes(kid)) {
      assert.ok(Date.now() < deadline, 'the old key outlived its grace period');
      await sleep(200);
    }
    assert.ok(Date.now() - rotatedAt >= (GRACE_S - 1) * 1000, 'not removed before the grace period');
    assert.equal(await reads(es.json.token), 401, 'after the grace period');
  });
});

describe('rate limits', () => {
  let server: Colibri;
  let admin: Api;
  let dataDir: string;

  before(async () => {
    dataDir = tempDir('ratelimit');
    server = await startColibri({ dataDir, config: { auth: { workspaceRps: 8 } } });
    admin = new Api(server.url, server.token);
  });

  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  const burst = async (api: Api, n: number): Promise<Array<{ status: number; headers: Headers }>> => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await api.get('/v0/datasources'));
    return out;
  };

  it('limits a JWT to limits.rps and answers 429 with Retry-After and X-RateLimit-*', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh workspace window
    const wsId = (await admin.get('/v0/workspace')).json.id;
    const t = await new SignJWT({ workspace_id: wsId, name: 'limited', exp: now() + 600, scopes: [{ type: 'DATASOURCES:READ', resource: 'x' }], limits: { rps: 2 } })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(server.token));
    await new Promise((r) => setTimeout(r, 1100));
    const rs = await burst(admin.withToken(t), 6);
    const ok = rs.filter((r) => r.status === 200);
    const limited = rs.filter((r) => r.status === 429);
    assert.ok(ok.length >= 2 && ok.length <= 4, rs.map((r) => r.status).join(','));
    assert.ok(limited.length >= 2, rs.map((r) => r.status).join(','));
    assert.equal(ok[0]!.headers.get('x-ratelimit-limit'), '2');
    assert.equal(ok[0]!.headers.get('x-ratelimit-remaining'), '1');
    assert.match(ok[0]!.headers.get('x-ratelimit-reset') ?? '', /^[1-9]\d*$/);
    const l = limited[0]!;
    assert.equal(l.headers.get('x-ratelimit-remaining'), '0');
    assert.match(l.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await admin.withToken(t).get('/v0/datasources')).status, 200, 'allowed again in the next window');
  });

  it('limits a workspace to auth.workspaceRps across all its tokens', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const rs = await burst(admin, 20);
    const ok = rs.filter((r) => r.status === 200).length;
    assert.ok(ok >= 8 && ok <= 16, rs.map((r) => r.status).join(','));
    assert.ok(rs.some((r) => r.status === 429));
    assert.equal(rs[0]!.headers.get('x-ratelimit-limit'), '8');
    const health = await admin.withToken(undefined).get('/healthz');
    assert.equal(health.status, 200, 'unauthenticated health checks are not limited');
  });
});
