/**
 * SSO with OIDC, end to end: the real Colibri server, a real OpenID Provider
 * (oidc-provider v8, groups claim, back-channel logout) and a crafted OP whose
 * token endpoint returns the ID tokens of the attacks. Logins are driven without
 * a browser (tests/helpers/oidc-provider.ts: Browser).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { startColibri, removeDir, type Colibri } from '../helpers/colibri.js';
import { Browser, CraftedIdp, reserveOidcProvider, type Hop, type RealOp } from '../helpers/oidc-provider.js';

let colibri: Colibri;
let op: RealOp;
let crafted: CraftedIdp;

const ACCOUNTS = {
  ana: { email: 'ana@acme.com', email_verified: true, name: 'Ana', groups: ['analysts'] },
  bob: { email: 'bob@acme.com', email_verified: true, groups: ['colibri-admins', 'analysts'] },
  carla: { email: 'carla@partner.io', email_verified: true, department: 'data-eng', realm_access: { roles: ['finance-reader'] } },
  dave: { email: 'dave@acme.com', email_verified: true, groups: ['marketing'] },
};

before(async () => {
  const reserved = await reserveOidcProvider();
  crafted = await CraftedIdp.start();
  colibri = await startColibri({
    config: {
      tenants: [
        {
          slug: 'acme',
          workspaces: ['default', 'finance'],
          sso: {
            domains: ['acme.com'],
            allowedRedirects: ['/auth/me', '/ui/'],
            oidc: { issuer: reserved.url, clientId: 'colibri', clientSecret: 'colibri-test-secret-0123456789abcdef', scopes: ['openid', 'email', 'profile', 'groups'], allowInsecureHttp: true },
            rules: [
              { name: 'admins', when: { claim: 'groups', contains: 'colibri-admins' }, grants: [{ workspace: '*', scopes: ['ADMIN'] }], stop: true },
              { name: 'analysts', when: { all: [{ emailDomain: 'acme.com' }, { claim: 'groups', contains: 'analysts' }] }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:sales', 'DATASOURCES:READ:events'] }] },
              { name: 'finance', when: { claim: 'realm_access.roles', contains: 'finance-reader' }, grants: [{ workspace: 'finance', scopes: ['DATASOURCES:READ:ledger'] }] },
              { name: 'data', when: { claim: 'department', regex: '^data-' }, grants: [{ workspace: 'default', scopes: ['PIPES:CREATE'] }] },
            ],
          },
        },
        {
          slug: 'crafty',
          sso: {
            sessionTtlSeconds: 3,
            oidc: { issuer: crafted.url, clientId: 'colibri', clientSecret: 'x', allowInsecureHttp: true, jwksCooldownSeconds: 0 },
            rules: [{ when: { claim: 'groups', contains: 'analysts' }, grants: [{ workspace: 'default', scopes: ['PIPES:READ:sales'] }] }],
          },
        },
      ],
    },
  });
  op = await reserved.configure({
    clientId: 'colibri',
    clientSecret: 'colibri-test-secret-0123456789abcdef',
    redirectUris: [`${colibri.url}/auth/acme/callback`],
    postLogoutRedirectUris: [`${colibri.url}/auth/logged-out`],
    backchannelLogoutUri: `${colibri.url}/auth/acme/backchannel-logout`,
    accounts: ACCOUNTS,
  });
});

after(async () => {
  if (process.env.SSO_TEST_DEBUG === '1') process.stderr.write(colibri?.output().split('\n').filter((l) => l.includes('sso login failed')).join('\n') ?? '');
  await colibri?.stop();
  await op?.close();
  await crafted?.close();
  if (colibri !== undefined) removeDir(colibri.dataDir);
});

const atMe = (u: string): boolean => u.startsWith(`${colibri.url}/auth/me`);

async function loginAcme(account: string, browser = new Browser()): Promise<{ hop: Hop; browser: Browser }> {
  const hop = await browser.navigate(`${colibri.url}/auth/acme/login`, { account, stopAt: atMe });
  return { hop, browser };
}

async function me(browser: Browser): Promise<{ status: number; json: any }> {
  const hop = await browser.request('GET', `${colibri.url}/auth/me`);
  return { status: hop.status, json: hop.status === 200 ? JSON.parse(hop.text) : undefined };
}

function sessionCookie(browser: Browser): string {
  const c = browser.cookie(colibri.url, 'colibri_session');
  assert.ok(c !== undefined, 'session cookie set');
  return c;
}

describe('OIDC login with a real OpenID Provider', () => {
  test('groups only in userinfo (merged): analysts get their workspace grants', async () => {
    const { hop, browser } = await loginAcme('ana');
    assert.equal(hop.status, 303, hop.text);
    const setCookie = hop.headers.getSetCookie().find((c) => c.startsWith('colibri_session='))!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/, 'no Secure flag on plain http');
    const m = await me(browser);
    assert.equal(m.status, 200);
    assert.equal(m.json.subject, 'ana');
    assert.equal(m.json.email, 'ana@acme.com');
    assert.equal(m.json.tenant, 'acme');
    assert.deepEqual(m.json.grants, [{ workspace: 'default', scopes: ['PIPES:READ:sales', 'DATASOURCES:READ:events'] }]);
  });

  test('a rule with stop: admins get ADMIN everywhere and nothing else', async () => {
    const { hop, browser } = await loginAcme('bob');
    assert.equal(hop.status, 303, hop.text);
    assert.deepEqual((await me(browser)).json.grants, [{ workspace: '*', scopes: ['ADMIN'] }]);
  });

  test('nested claim path and regex, no e-mail domain match', async () => {
    const { hop, browser } = await loginAcme('carla');
    assert.equal(hop.status, 303, hop.text);
    assert.deepEqual((await me(browser)).json.grants, [
      { workspace: 'finance', scopes: ['DATASOURCES:READ:ledger'] },
      { workspace: 'default', scopes: ['PIPES:CREATE'] },
    ]);
  });

  test('no rule matched: 403 page that says so, no session', async () => {
    const { hop, browser } = await loginAcme('dave');
    assert.equal(hop.status, 403);
    assert.match(hop.text, /none of this tenant&#39;s access rules/);
    assert.match(hop.text, /no_rule_matched/);
    assert.equal(browser.cookie(colibri.url, 'colibri_session'), undefined);
    assert.match(colibri.output(), /"sso login decision".*"decision":"deny"/);
  });

  test('login routing by e-mail domain, and unknown domains', async () => {
    const b = new Browser();
    const r = await b.request('GET', `${colibri.url}/auth/login?email=Ana@ACME.com`);
    assert.equal(r.status, 302);
    assert.equal(r.location, `${colibri.url}/auth/acme/login?login_hint=ana%40acme.com`);
    assert.equal((await b.request('GET', `${colibri.url}/auth/login?email=x@unknown.org`)).status, 404);
  });

  test('post-login redirects: allow-list only, no open redirect', async () => {
    const b = new Browser();
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/other', 'javascript:alert(1)']) {
      const r = await b.request('GET', `${colibri.url}/auth/acme/login?redirect=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
    }
    const ok = await b.navigate(`${colibri.url}/auth/acme/login?redirect=${encodeURIComponent('/ui/pipes')}`, { account: 'ana', stopAt: (u) => u.startsWith(`${colibri.url}/ui/`) });
    assert.equal(ok.status, 303);
    assert.equal(ok.location, `${colibri.url}/ui/pipes`);
  });

  test('token exchange: scopes never exceed the session grants', async () => {
    const { browser } = await loginAcme('ana');
    const csrf = (await me(browser)).json.csrf_token as string;
    const post = (fields: Record<string, string>, withCsrf = true): Promise<Hop> =>
      browser.request('POST', `${colibri.url}/auth/token`, new URLSearchParams(fields), withCsrf ? { 'x-colibri-csrf': csrf } : {});
    assert.equal((await post({ workspace: 'default' }, false)).status, 403, 'CSRF header required');
    const all = await post({ workspace: 'default' });
    assert.equal(all.status, 200, all.text);
    const claims = decodeJwt(JSON.parse(all.text).token);
    assert.deepEqual(claims.scopes, ['PIPES:READ:sales', 'DATASOURCES:READ:events']);
    assert.ok((claims.exp as number) - (claims.iat as number) <= 3600);
    const some = await post({ workspace: 'default', scopes: 'PIPES:READ:sales' });
    assert.deepEqual(decodeJwt(JSON.parse(some.text).token).scopes, ['PIPES:READ:sales']);
    for (const scopes of ['ADMIN', 'PIPES:READ:other', 'DATASOURCES:READ:events PIPES:DROP:sales', 'TOKENS']) {
      assert.equal((await post({ workspace: 'default', scopes })).status, 403, scopes);
    }
    assert.equal((await post({ workspace: 'finance' })).status, 403, 'no grant in finance');
    // The exchanged token works on the workspace API, within its scopes only.
    const token = JSON.parse(all.text).token as string;
    const api = (path: string, t: string, method = 'GET'): Promise<Response> => fetch(`${colibri.url}${path}`, { method, headers: { authorization: `Bearer ${t}` } });
    assert.equal((await api('/v0/datasources', token)).status, 200);
    assert.equal((await api('/v0/tokens', token)).status, 403);
    assert.equal((await api('/v0/datasources?name=x&schema=a%20String', token, 'POST')).status, 403);
    const [h, p, sig] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), scopes: ['ADMIN'] })).toString('base64url')}.${sig}`;
    assert.equal((await api('/v0/tokens', forged)).status, 401, 'a tampered token is refused');
    assert.ok(p !== undefined);
    // The session cookie itself also reaches the API; state changes need the CSRF header.
    assert.equal((await browser.request('GET', `${colibri.url}/v0/datasources`)).status, 200);
    assert.equal((await browser.request('POST', `${colibri.url}/v0/tokens?name=x&scope=TOKENS`)).status, 403);
    assert.equal((await new Browser().request('POST', `${colibri.url}/auth/token`, new URLSearchParams({ workspace: 'default' }))).status, 401);
  });

  test('logout: CSRF required, session revoked, then RP-initiated logout at the IdP', async () => {
    const { browser } = await loginAcme('ana');
    const cookie = sessionCookie(browser);
    const csrf = (await me(browser)).json.csrf_token as string;
    assert.equal((await browser.request('POST', `${colibri.url}/auth/logout`)).status, 403);
    // the 403 cleared the cookie in this browser; a copy still works until revoked
    const copy = new Browser();
    copy.cookies(colibri.url).set('colibri_session', cookie);
    assert.equal((await me(copy)).status, 200);
    const out = await copy.request('POST', `${colibri.url}/auth/logout`, undefined, { 'x-colibri-csrf': csrf });
    assert.equal(out.status, 303);
    assert.ok(out.location!.startsWith(`${op.url}/session/end`), out.location);
    const again = new Browser();
    again.cookies(colibri.url).set('colibri_session', cookie);
    assert.equal((await me(again)).status, 401, 'the cookie is revoked');
    // At the IdP (its session cookie is in `browser`): confirm, then back to Colibri.
    const end = await browser.navigate(out.location!);
    assert.equal(end.status, 200);
    assert.equal(end.url, `${colibri.url}/auth/logged-out`);
  });

  test('back-channel logout from the IdP revokes a live session (by sid), not others', async () => {
    const { browser } = await loginAcme('ana');
    const other = await loginAcme('bob');
    assert.equal((await me(browser)).status, 200);
    // The user signs out at the IdP (another app, the IdP's own page): the OP calls Colibri's back channel.
    const end = await browser.navigate(`${op.url}/session/end?client_id=colibri`);
    assert.equal(end.status, 200, end.text.slice(0, 300));
    assert.equal((await me(browser)).status, 401);
    assert.equal((await me(other.browser)).status, 200, 'another IdP session is untouched');
  });
});

describe('OIDC relying-party checks (crafted ID tokens)', () => {
  const start = (b = new Browser()): Promise<Hop> => b.navigate(`${colibri.url}/auth/crafty/login`, { stopAt: atMe });

  test('control: a well-formed ID token logs in', async () => {
    const hop = await start();
    assert.equal(hop.status, 303, hop.text);
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  const rejected: Array<[string, () => void]> = [
    ['wrong iss', () => (crafted.craft = { payload: { iss: 'http://127.0.0.1:1/evil' } })],
    ['wrong aud', () => (crafted.craft = { payload: { aud: 'someone-else' } })],
    ['extra untrusted aud (with azp)', () => (crafted.craft = { payload: { aud: ['colibri', 'someone-else'], azp: 'colibri' } })],
    ['bad signature', () => (crafted.craft = { sign: 'badsig' })],
    ['signed by a key not in the JWKS', () => (crafted.craft = { sign: 'other', header: { kid: 'unknown-kid' } })],
    ['alg none', () => (crafted.craft = { sign: 'none' })],
    ['expired', () => (crafted.craft = { payload: { iat: now() - 900, exp: now() - 300 } })],
    ['iat far in the past', () => (crafted.craft = { payload: { iat: now() - 86_000, exp: now() + 300 } })],
    ['nonce mismatch', () => (crafted.craft = { payload: { nonce: 'not-the-nonce' } })],
    ['nonce missing', () => (crafted.craft = { omit: ['nonce'] })],
    ['sub missing', () => (crafted.craft = { omit: ['sub'] })],
    ['state mismatch', () => (crafted.authResponse = { state: 'forged-state' })],
    ['state missing', () => (crafted.authResponse = { state: undefined })],
    ['RFC 9207 iss parameter wrong', () => (crafted.authResponse = { iss: 'http://127.0.0.1:1/evil' })],
  ];
  for (const [name, arrange] of rejected) {
    test(`rejected: ${name}`, async () => {
      arrange();
      try {
        const b = new Browser();
        const hop = await start(b);
        assert.ok(hop.status === 401 || hop.status === 400, `${name}: got ${hop.status} ${hop.text.slice(0, 200)}`);
        assert.match(hop.text, /Sign-in failed/);
        assert.equal(b.cookie(colibri.url, 'colibri_session'), undefined);
      } finally {
        crafted.craft = {};
        crafted.authResponse = {};
      }
    });
  }

  test('rejected: PKCE verifier mismatch (a code injected from another login)', async () => {
    const victim = new Browser();
    const toIdp = await victim.request('GET', `${colibri.url}/auth/crafty/login`);
    const victimState = new URL(toIdp.location!).searchParams.get('state')!;
    const attacker = new Browser();
    const atCallback = await attacker.navigate(`${colibri.url}/auth/crafty/login`, { stopAt: (u) => u.includes('/auth/crafty/callback') });
    const stolen = new URL(atCallback.location!);
    stolen.searchParams.set('state', victimState);
    const hop = await victim.request('GET', stolen.href);
    assert.equal(hop.status, 401, hop.text);
    assert.match(hop.text, /invalid_grant|PKCE/);
  });

  test('signing-key rotation: new kid, JWKS re-fetched, login succeeds', async () => {
    assert.equal((await start()).status, 303);
    const before = crafted.jwksFetches;
    await crafted.rotate();
    const hop = await start();
    assert.equal(hop.status, 303, hop.text);
    assert.ok(crafted.jwksFetches > before, 'JWKS fetched again');
  });

  test('Entra ID groups overage is reported, not mapped as no groups', async () => {
    crafted.craft = { payload: { groups: undefined, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } } };
    const hop = await start();
    assert.equal(hop.status, 403);
    assert.match(hop.text, /groups_overage/);
    assert.match(hop.text, /too many groups/);
  });

  test('session expiry: the cookie stops working after sessionTtlSeconds', async () => {
    const b = new Browser();
    assert.equal((await start(b)).status, 303);
    assert.equal((await me(b)).status, 200);
    await new Promise((r) => setTimeout(r, 3500));
    const copy = new Browser();
    copy.cookies(colibri.url).set('colibri_session', b.cookie(colibri.url, 'colibri_session') ?? 'gone');
    assert.equal((await me(copy)).status, 401);
  });

  test('back-channel logout token: validated with jose, revokes by sub, one use', async () => {
    const b = new Browser();
    assert.equal((await start(b)).status, 303);
    assert.equal((await me(b)).status, 200);
    const post = (token: string): Promise<Hop> => new Browser().request('POST', `${colibri.url}/auth/crafty/backchannel-logout`, new URLSearchParams({ logout_token: token }));
    const base = { iss: crafted.url, aud: 'colibri', iat: Math.floor(Date.now() / 1000), sub: 'user-1', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } };
    assert.equal((await post(await crafted.sign({ ...base, jti: 'a1' }, {}, 'none'))).status, 400, 'alg none');
    assert.equal((await post(await crafted.sign({ ...base, jti: 'a2' }, {}, 'badsig'))).status, 400, 'bad signature');
    assert.equal((await post(await crafted.sign({ ...base, jti: 'a3', nonce: 'n' }))).status, 400, 'nonce present');
    assert.equal((await post(await crafted.sign({ ...base, jti: 'a4', events: {} }))).status, 400, 'no event');
    assert.equal((await post(await crafted.sign({ ...base, jti: 'a5', aud: 'other' }))).status, 400, 'wrong aud');
    assert.equal((await me(b)).status, 200, 'still signed in after bad tokens');
    const good = await crafted.sign({ ...base, jti: 'ok-1' });
    assert.equal((await post(good)).status, 200);
    assert.equal((await me(b)).status, 401);
    assert.equal((await post(good)).status, 400, 'replayed logout token');
    const again = new Browser();
    assert.equal((await start(again)).status, 303);
    assert.equal((await me(again)).status, 200, 'a new login after the logout works');
  });
});

describe('colibri login (CLI, loopback redirect)', () => {
  test('signs in through the browser and stores a workspace token', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI, tempDir } = await import('../helpers/colibri.js');
    const { readFileSync } = await import('node:fs');
    const dir = tempDir('cli');
    const credFile = `${dir}/credentials.json`;
    const proc = spawn(process.execPath, [CLI, 'login', colibri.url, '--tenant', 'acme', '--workspace', 'default'], { env: { ...process.env, COLIBRI_CREDENTIALS: credFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
      proc.stdout!.on('data', () => {
        const m = /(http:\/\/\S+\/auth\/acme\/login\S*)/.exec(out);
        if (m !== null) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const hop = await new Browser().navigate(url, { account: 'ana' });
    assert.equal(hop.status, 200, hop.text);
    assert.match(hop.text, /signed in/);
    assert.equal(await exited, 0, out);
    const cred = JSON.parse(readFileSync(credFile, 'utf8'))[colibri.url];
    assert.equal(cred.workspace, 'default');
    assert.deepEqual(cred.scopes, ['PIPES:READ:sales', 'DATASOURCES:READ:events']);
    assert.deepEqual(decodeJwt(cred.token).scopes, cred.scopes);
    removeDir(dir);
  });
});
