/**
 * Operators sign in through their own IdP (a real OpenID Provider, configured under
 * `operators`, separate from the tenant's IdP) and reach /v0/admin with their operator
 * scopes only; operator and workspace sessions never cross over. A tenant added
 * through the operator API signs its users in with the SSO of its record (login by
 * slug and by e-mail domain, claim mapping). Its host password and OIDC client secret
 * are sealed at rest (checked in the state files), and still work after a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { Browser, reserveOidcProvider, type Hop, type RealOp } from '../helpers/oidc-provider.js';

const OPS_SECRET = 'ops-client-secret-0123456789abcdef';
const ACME_SECRET = 'acme-client-secret-0123456789abcdef';

describe('operator SSO, and SSO of tenants added by operators', () => {
  let ch: ClickHouseServer;
  let server: Colibri;
  let dataDir: string;
  let opsOp: RealOp;
  let tenantOp: RealOp;
  let opsIssuer: string;
  let tenantIssuer: string;
  let config: Record<string, unknown>;

  before(async () => {
    ch = await startClickHouseServer();
    const ops = await reserveOidcProvider();
    const ten = await reserveOidcProvider();
    opsIssuer = ops.url;
    tenantIssuer = ten.url;
    dataDir = tempDir('opsso');
    config = {
      hosts: { heartbeatIntervalMs: 500 },
      operators: {
        oidc: { issuer: ops.url, clientId: 'colibri-ops', clientSecret: OPS_SECRET, scopes: ['openid', 'email', 'profile', 'groups'], allowInsecureHttp: true },
        rules: [
          { name: 'viewers', when: { claim: 'groups', contains: 'viewer' }, grants: [{ scopes: ['OPERATOR:READ'] }] },
          { name: 'sre', when: { claim: 'groups', contains: 'sre' }, grants: [{ scopes: ['OPERATOR:READ', 'OPERATOR:TENANTS'] }] },
          { name: 'root', when: { claim: 'groups', contains: 'root' }, grants: [{ scopes: ['OPERATOR:ADMIN'] }] },
        ],
      },
      tenants: [{
        slug: 'acme',
        workspaces: ['default'],
        sso: {
          domains: ['acme.com'],
          oidc: { issuer: ten.url, clientId: 'colibri', clientSecret: ACME_SECRET, scopes: ['openid', 'email', 'profile', 'groups'], allowInsecureHttp: true },
          rules: [{ when: { claim: 'groups', contains: 'analysts' }, grants: [{ workspace: 'default', scopes: ['DATASOURCES:CREATE'] }] }],
        },
      }],
    };
    server = await startColibri({ dataDir, config });
    opsOp = await ops.configure({
      clientId: 'colibri-ops', clientSecret: OPS_SECRET,
      redirectUris: [`${server.url}/auth/_operators/callback`], postLogoutRedirectUris: [`${server.url}/auth/logged-out`],
      backchannelLogoutUri: `${server.url}/auth/_operators/backchannel-logout`,
      accounts: {
        vera: { email: 'vera@ops.example', groups: ['viewer'] },
        sam: { email: 'sam@ops.example', groups: ['sre'] },
        rita: { email: 'rita@ops.example', groups: ['root'] },
        nobody: { email: 'nobody@ops.example', groups: ['sales'] },
      },
    });
    // The tenants' IdP (one OP, one client for both tenants here): its users have
    // groups that look like operator groups, and still get no operator access.
    tenantOp = await ten.configure({
      clientId: 'colibri', clientSecret: ACME_SECRET,
      redirectUris: [`${server.url}/auth/acme/callback`, `${server.url}/auth/newco/callback`], postLogoutRedirectUris: [`${server.url}/auth/logged-out`],
      backchannelLogoutUri: `${server.url}/auth/acme/backchannel-logout`,
      accounts: {
        ana: { email: 'ana@acme.com', email_verified: true, groups: ['analysts', 'root'] },
        nina: { email: 'nina@newco.example', email_verified: true, groups: ['newco-users'] },
      },
    });
  });

  after(async () => {
    await server?.stop();
    await opsOp?.close();
    await tenantOp?.close();
    await ch?.stop();
    if (dataDir !== undefined) removeDir(dataDir);
  });

  const atMe = (u: string): boolean => u.startsWith(`${server.url}/auth/me`);

  async function login(path: string, account: string): Promise<{ hop: Hop; browser: Browser; csrf: string; me: any }> {
    const browser = new Browser();
    const hop = await browser.navigate(`${server.url}${path}`, { account, stopAt: atMe });
    const m = await browser.request('GET', `${server.url}/auth/me`);
    const me = m.status === 200 ? JSON.parse(m.text) : undefined;
    return { hop, browser, csrf: me?.csrf_token ?? '', me };
  }

  const json = { 'content-type': 'application/json' };
  const remote = (): Record<string, unknown> => ({ kind: 'remote', urls: [ch.url], user: ch.user, password: ch.password, readUser: ch.readUser, readPassword: ch.readPassword });
  const newcoSso = (group: string): Record<string, unknown> => ({
    domains: ['newco.io'],
    oidc: { issuer: tenantIssuer, clientId: 'colibri', clientSecret: ACME_SECRET, scopes: ['openid', 'email', 'profile', 'groups'], allowInsecureHttp: true },
    rules: [{ when: { claim: 'groups', contains: group }, grants: [{ workspace: 'default', scopes: ['ADMIN'] }] }],
  });

  it('operator sessions reach /v0/admin with their operator scopes only (CSRF on changes)', async () => {
    const vera = await login('/auth/_operators/login', 'vera');
    assert.equal(vera.hop.status, 303, vera.hop.text);
    assert.equal(vera.me.operator, true);
    assert.equal(vera.me.tenant, null);
    assert.equal((await vera.browser.request('GET', `${server.url}/v0/admin/tenants`)).status, 200, 'OPERATOR:READ reads');
    const tmp = JSON.stringify({ slug: 'tmp', host: remote() });
    assert.equal((await vera.browser.request('POST', `${server.url}/v0/admin/tenants`, tmp, { ...json, 'x-colibri-csrf': vera.csrf })).status, 403, 'OPERATOR:READ may not add');

    const nobody = await login('/auth/_operators/login', 'nobody');
    assert.equal(nobody.hop.status, 403, 'no operator rule matched: no session');

    const sam = await login('/auth/_operators/login', 'sam');
    assert.equal(sam.hop.status, 303, sam.hop.text);
    const post = (b: Browser, csrf: string | undefined, body: string): Promise<Hop> =>
      b.request('POST', `${server.url}/v0/admin/tenants`, body, csrf === undefined ? json : { ...json, 'x-colibri-csrf': csrf });
    assert.equal((await post(sam.browser, undefined, tmp)).status, 403, 'CSRF header required');
    assert.equal((await post(sam.browser, 'wrong-csrf-token-value-0000000000', tmp)).status, 403, 'wrong CSRF token');
    const added = await post(sam.browser, sam.csrf, tmp);
    assert.equal(added.status, 201, added.text);
    assert.ok(!added.text.includes(ch.password), 'no password in the answer');
    const patched = await sam.browser.request('PATCH', `${server.url}/v0/admin/tenants/tmp`, JSON.stringify({ name: 'Temporary' }), { ...json, 'x-colibri-csrf': sam.csrf });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(JSON.parse(patched.text).tenant.name, 'Temporary');
    assert.equal((await sam.browser.request('DELETE', `${server.url}/v0/admin/tenants/tmp?confirm=tmp`, undefined, { 'x-colibri-csrf': sam.csrf })).status, 403, 'OPERATOR:TENANTS may not remove');

    const rita = await login('/auth/_operators/login', 'rita');
    assert.equal((await rita.browser.request('DELETE', `${server.url}/v0/admin/tenants/tmp?confirm=tmp`)).status, 403, 'CSRF header required');
    assert.equal((await rita.browser.request('DELETE', `${server.url}/v0/admin/tenants/tmp?confirm=tmp`, undefined, { 'x-colibri-csrf': rita.csrf })).status, 204);
    assert.equal((await rita.browser.request('GET', `${server.url}/v0/admin/tenants/tmp`)).status, 404);

    // Logged out: the operator session stops working on /v0/admin.
    const out = await rita.browser.request('POST', `${server.url}/auth/logout`, undefined, { 'x-colibri-csrf': rita.csrf });
    assert.ok(out.status === 303 || out.status === 204, String(out.status));
    const copy = new Browser();
    copy.cookies(server.url).set('colibri_session', sam.browser.cookie(server.url, 'colibri_session')!);
    assert.equal((await copy.request('GET', `${server.url}/v0/admin/tenants`)).status, 200);
    assert.equal((await rita.browser.request('GET', `${server.url}/v0/admin/tenants`)).status, 401);
  });

  it('an operator session never reaches the workspace API; a workspace session never reaches /v0/admin', async () => {
    const rita = await login('/auth/_operators/login', 'rita');
    assert.equal(rita.hop.status, 303);
    for (const p of ['/v0/datasources', '/v0/datasources?workspace=default', '/v0/sql?q=SELECT%201', '/v0/tokens', '/v0/pipes']) {
      assert.equal((await rita.browser.request('GET', `${server.url}${p}`, undefined, { 'x-colibri-workspace': 'default' })).status, 401, p);
    }
    assert.equal((await rita.browser.request('POST', `${server.url}/auth/token`, new URLSearchParams({ workspace: 'default' }), { 'x-colibri-csrf': rita.csrf })).status, 403);

    // The tenant's IdP signs in tenant users only: its 'root' group is not an operator group here.
    const ana = await login('/auth/acme/login', 'ana');
    assert.equal(ana.hop.status, 303, ana.hop.text);
    assert.equal(ana.me.tenant, 'acme');
    assert.equal((await ana.browser.request('GET', `${server.url}/v0/datasources`)).status, 200, 'the workspace session works on the workspace API');
    assert.equal((await ana.browser.request('GET', `${server.url}/v0/admin/tenants`)).status, 401);
    assert.equal((await ana.browser.request('POST', `${server.url}/v0/admin/tenants`, JSON.stringify({ slug: 'evil' }), { ...json, 'x-colibri-csrf': ana.csrf })).status, 401);
    // The operators' login goes to the operators' IdP, not the tenant's.
    const start = await new Browser().request('GET', `${server.url}/auth/_operators/login`);
    assert.equal(start.status, 302);
    assert.ok(start.location!.startsWith(opsIssuer), start.location);
    assert.ok(!start.location!.startsWith(tenantIssuer));
  });

  it('a tenant added through the operator API signs its users in with the SSO of its record', async () => {
    const sam = await login('/auth/_operators/login', 'sam');
    const body = { slug: 'newco', name: 'NewCo', host: remote(), emailDomains: ['newco.example'], sso: newcoSso('newco-users') };
    const r = await sam.browser.request('POST', `${server.url}/v0/admin/tenants`, JSON.stringify(body), { ...json, 'x-colibri-csrf': sam.csrf });
    assert.equal(r.status, 201, r.text);
    assert.ok(!r.text.includes(ACME_SECRET) && !r.text.includes(ch.password) && !r.text.includes(ch.readPassword), 'no secrets in the answer');

    // Routing by e-mail domain: the record's emailDomains and its sso.domains.
    const b = new Browser();
    for (const [email, slug] of [['nina@newco.example', 'newco'], ['x@NEWCO.io', 'newco'], ['y@acme.com', 'acme']]) {
      const hop = await b.request('GET', `${server.url}/auth/login?email=${encodeURIComponent(email!)}`);
      assert.equal(hop.status, 302, email);
      assert.ok(hop.location!.startsWith(`${server.url}/auth/${slug}/login?`), `${email}: ${hop.location}`);
    }
    assert.equal((await b.request('GET', `${server.url}/auth/login?email=z@elsewhere.example`)).status, 404);

    const nina = await login('/auth/newco/login', 'nina');
    assert.equal(nina.hop.status, 303, nina.hop.text);
    assert.equal(nina.me.tenant, 'newco');
    assert.deepEqual(nina.me.grants, [{ workspace: 'default', scopes: ['ADMIN'] }]);
    const created = await nina.browser.request('POST', `${server.url}/v0/datasources?name=things&schema=${encodeURIComponent('`n` UInt64')}`, undefined, { 'x-colibri-csrf': nina.csrf });
    assert.equal(created.status, 200, created.text);
    const exchanged = await nina.browser.request('POST', `${server.url}/auth/token`, new URLSearchParams({ workspace: 'default' }), { 'x-colibri-csrf': nina.csrf });
    assert.equal(exchanged.status, 200, exchanged.text);
    assert.equal((await new Api(server.url, JSON.parse(exchanged.text).token).get('/v0/datasources/things')).status, 200);
    // A user of another tenant's domain on newco's login: the rules of newco's record decide.
    const ana = await login('/auth/newco/login', 'ana');
    assert.equal(ana.hop.status, 403);

    // The operator changes newco's rules: the next login follows them.
    const patched = await sam.browser.request('PATCH', `${server.url}/v0/admin/tenants/newco`, JSON.stringify({ sso: newcoSso('analysts') }), { ...json, 'x-colibri-csrf': sam.csrf });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await login('/auth/newco/login', 'nina')).hop.status, 403);
    const ana2 = await login('/auth/newco/login', 'ana');
    assert.equal(ana2.hop.status, 303, ana2.hop.text);
    assert.equal(ana2.me.tenant, 'newco');
  });

  it('seals host passwords and the OIDC client secret in the state; they work after a restart', async () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) {
          if (name !== 'hosts') walk(p);
        } else if (name !== 'test-config.json') files.push(p);
      }
    };
    walk(dataDir);
    const state = files.filter((f) => /snapshot|journal/.test(path.basename(f)));
    assert.ok(state.length > 0, `state files: ${files.join(', ')}`);
    const all = state.map((f) => readFileSync(f, 'latin1')).join('\n');
    assert.match(all, /newco/, 'the tenant is in the state files');
    assert.match(all, /sealed:v1\./);
    // SSO keys in `meta`: the session keys and the workspace-token private key are sealed too.
    assert.match(all, /sso\.session-keys/);
    assert.doesNotMatch(all, /"enc":"[A-Za-z0-9_-]{43}"/, 'session keys in clear');
    assert.match(all, /"sealedPrivateJwk"/);
    assert.doesNotMatch(all, /"privateJwk"/, 'workspace-token private key in clear');
    for (const f of files) {
      const text = readFileSync(f, 'latin1');
      assert.ok(!text.includes(ch.password), `host password in clear in ${f}`);
      assert.ok(!text.includes(ch.readPassword), `read password in clear in ${f}`);
      assert.ok(!text.includes(ACME_SECRET), `client secret in clear in ${f}`);
    }
    assert.ok(!server.output().includes(ch.password) && !server.output().includes(ACME_SECRET), 'no secrets in the logs');

    const token = readFileSync(path.join(dataDir, 'tokens', 'newco.default.token'), 'utf8').trim();
    await server.stop();
    server = await startColibri({ dataDir, config });
    const api = new Api(server.url, token);
    const q = await api.get('/v0/sql?q=' + encodeURIComponent('SELECT count() AS c FROM things'));
    assert.equal(q.status, 200, q.text);
    assert.deepEqual(q.json.data, [{ c: 0 }]);
    const op = new Api(server.url, readFileSync(path.join(dataDir, 'operator.token'), 'utf8').trim());
    const view = await op.get('/v0/admin/tenants/newco');
    assert.equal(view.json.host.hasPassword, true);
    assert.ok(!view.text.includes('sealed:') && !view.text.includes(ch.password));
  });
});
