/**
 * Identity providers for the SSO end-to-end tests, on localhost:
 * - `startOidcProvider`: a real OpenID Provider (`oidc-provider` v8) with a
 *   `groups` claim, dev interactions (login form), RP-initiated and back-channel
 *   logout;
 * - `CraftedIdp`: a small OP under the test's control (discovery, authorize,
 *   token, JWKS) whose token endpoint returns crafted ID tokens, for the attacks
 *   on the relying party's checks. It enforces PKCE like a real OP.
 * And `Browser`: a cookie jar that follows redirects and submits the OP's forms,
 * to drive logins without a browser.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';

/** A listening HTTP server whose handler is set later. */
export async function listen(handler?: http.RequestListener): Promise<{ server: http.Server; url: string; setHandler(h: http.RequestListener): void }> {
  let current: http.RequestListener = handler ?? ((_req, res) => res.writeHead(503).end());
  const server = http.createServer((req, res) => current(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, setHandler: (h) => (current = h) };
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Account {
  [claim: string]: unknown;
}

export interface RealOp {
  url: string;
  close(): Promise<void>;
}

/**
 * Start the real OP's listener first (its issuer URL goes into Colibri's config),
 * then `configure` it with the relying party's URLs once Colibri runs.
 */
export async function reserveOidcProvider(): Promise<{ url: string; configure(o: { clientId: string; clientSecret: string; redirectUris: string[]; postLogoutRedirectUris: string[]; backchannelLogoutUri: string; accounts: Record<string, Account> }): Promise<RealOp> }> {
  const l = await listen();
  return {
    url: l.url,
    configure: async (o) => {
      const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => { callback(): http.RequestListener } };
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(privateKey)), kid: 'op-key-1', use: 'sig', alg: 'RS256' };
      const provider = new Provider(l.url, {
        clients: [{
          client_id: o.clientId,
          client_secret: o.clientSecret,
          redirect_uris: o.redirectUris,
          post_logout_redirect_uris: o.postLogoutRedirectUris,
          backchannel_logout_uri: o.backchannelLogoutUri,
          backchannel_logout_session_required: true,
          grant_types: ['authorization_code'],
          response_types: ['code'],
        }],
        jwks: { keys: [jwk] },
        cookies: { keys: [randomBytes(16).toString('hex')] },
        scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'department', 'realm_access'], groups: ['groups'] },
        features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true } },
        pkce: { required: () => true },
        findAccount: (_ctx: unknown, id: string) => {
          const claims = o.accounts[id];
          if (claims === undefined) return undefined;
          return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
        },
      });
      l.setHandler(provider.callback());
      return { url: l.url, close: () => closeServer(l.server) };
    },
  };
}

/** A response as the tests see it. */
export interface Hop {
  status: number;
  url: string;
  location?: string;
  text: string;
  headers: Headers;
}

/** A cookie jar per origin that follows redirects and answers oidc-provider's forms. */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(origin: string): Map<string, string> {
    let m = this.jar.get(origin);
    if (m === undefined) {
      m = new Map();
      this.jar.set(origin, m);
    }
    return m;
  }

  cookie(origin: string, name: string): string | undefined {
    return this.cookies(new URL(origin).origin).get(name);
  }

  /** One request, no redirect following; cookies stored. */
  async request(method: string, url: string, body?: URLSearchParams | string, headers: Record<string, string> = {}): Promise<Hop> {
    const origin = new URL(url).origin;
    const jar = this.cookies(origin);
    const h: Record<string, string> = { ...headers };
    if (jar.size > 0) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body instanceof URLSearchParams) h['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : String(body), redirect: 'manual' });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location') ?? undefined;
    return { status: res.status, url, location: location === undefined ? undefined : new URL(location, url).href, text: await res.text(), headers: res.headers };
  }

  /**
   * Follow redirects from `url`; on oidc-provider's login / consent / logout pages,
   * submit the form (login as `account`). Stops at the first non-redirect response
   * that is not such a page, or when `stopAt(url)` is true for the next URL.
   */
  async navigate(url: string, o: { account?: string; stopAt?: (next: string) => boolean; method?: string; body?: URLSearchParams; headers?: Record<string, string> } = {}): Promise<Hop> {
    let hop = await this.request(o.method ?? 'GET', url, o.body, o.headers);
    for (let i = 0; i < 30; i++) {
      if (hop.location !== undefined && hop.status >= 300 && hop.status < 400) {
        if (o.stopAt?.(hop.location) === true) return hop;
        hop = await this.request('GET', hop.location);
        continue;
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(hop.text);
      if (hop.status === 200 && form !== null && /\/(interaction|session\/end)/.test(form[1]!)) {
        const action = new URL(form[1]!.replace(/&amp;/g, '&'), hop.url).href;
        const fields = new URLSearchParams();
        for (const m of form[2]!.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields.set(m[1]!, m[2]!);
        if (fields.get('prompt') === 'login' || /name="login"/.test(form[2]!)) {
          fields.set('prompt', 'login');
          fields.set('login', o.account ?? 'nobody');
          fields.set('password', 'x');
        }
        if (/session\/end/.test(action)) fields.set('logout', 'yes');
        hop = await this.request('POST', action, fields);
        continue;
      }
      return hop;
    }
    throw new Error('too many redirects');
  }
}

// ---------------------------------------------------------------- crafted IdP

/** What the crafted IdP's token endpoint signs, and how. */
export interface Craft {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  /** Claims removed from the default payload. */
  omit?: string[];
  /** `none`: unsigned (alg none); `badsig`: a signature byte flipped; `other`: signed with a key not in the JWKS. */
  sign?: 'key' | 'none' | 'badsig' | 'other';
}

interface PendingCode {
  challenge: string;
  nonce: string | undefined;
  clientId: string;
}

export class CraftedIdp {
  url = '';
  private server: http.Server | undefined;
  private key!: { kid: string; privateKey: CryptoKey; publicJwk: JWK };
  private other!: CryptoKey;
  private codes = new Map<string, PendingCode>();
  /** Applied to the next token response (then reset). */
  craft: Craft = {};
  /** Tamper the authorization response: parameters to override (undefined value: remove). */
  authResponse: Record<string, string | undefined> = {};
  jwksFetches = 0;
  clientId = 'colibri';

  static async start(): Promise<CraftedIdp> {
    const idp = new CraftedIdp();
    await idp.rotate();
    idp.other = (await generateKeyPair('RS256', { extractable: true })).privateKey;
    const l = await listen((req, res) => void idp.handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err))));
    idp.server = l.server;
    idp.url = l.url;
    return idp;
  }

  /** A new signing key with a new kid; the JWKS then holds only the new key. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `k-${randomBytes(6).toString('hex')}`;
    this.key = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
    return kid;
  }

  close(): Promise<void> {
    return this.server === undefined ? Promise.resolve() : closeServer(this.server);
  }

  /** Sign (or mangle) an ID token or logout token with the current key. */
  async sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}, how: Craft['sign'] = 'key'): Promise<string> {
    if (how === 'none') {
      const h = Buffer.from(JSON.stringify({ alg: 'none', ...header })).toString('base64url');
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
    }
    const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: this.key.kid, ...header } as { alg: string }).sign(how === 'other' ? this.other : this.key.privateKey);
    if (how !== 'badsig') return jwt;
    const sig = Buffer.from(jwt.slice(jwt.lastIndexOf('.') + 1), 'base64url');
    sig[0] = sig[0]! ^ 0xff;
    return `${jwt.slice(0, jwt.lastIndexOf('.') + 1)}${sig.toString('base64url')}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (u.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/authorize`,
        token_endpoint: `${this.url}/token`,
        jwks_uri: `${this.url}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        authorization_response_iss_parameter_supported: true,
      });
    }
    if (u.pathname === '/jwks') {
      this.jwksFetches++;
      return json(200, { keys: [this.key.publicJwk] });
    }
    if (u.pathname === '/authorize') {
      const p = u.searchParams;
      const code = randomBytes(16).toString('base64url');
      if (p.get('code_challenge_method') !== 'S256') return json(400, { error: 'invalid_request' });
      this.codes.set(code, { challenge: p.get('code_challenge') ?? '', nonce: p.get('nonce') ?? undefined, clientId: p.get('client_id') ?? '' });
      const back = new URL(p.get('redirect_uri')!);
      const params: Record<string, string | undefined> = { code, state: p.get('state') ?? undefined, iss: this.url, ...this.authResponse };
      for (const [k, v] of Object.entries(params)) if (v !== undefined) back.searchParams.set(k, v);
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = new URLSearchParams(Buffer.concat(chunks).toString());
      const pending = this.codes.get(body.get('code') ?? '');
      this.codes.delete(body.get('code') ?? '');
      if (pending === undefined) return json(400, { error: 'invalid_grant', error_description: 'unknown code' });
      const verifier = body.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) return json(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      const craft = this.craft;
      this.craft = {};
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { iss: this.url, sub: 'user-1', aud: this.clientId, iat: now, exp: now + 300, nonce: pending.nonce, email: 'ana@crafty.example', groups: ['analysts'], ...craft.payload };
      for (const k of craft.omit ?? []) delete payload[k];
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const idToken = await this.sign(payload, craft.header, craft.sign);
      return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    json(404, { error: 'not_found' });
  }
}
