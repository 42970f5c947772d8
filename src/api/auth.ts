/**
 * SSO routes (`/auth`): login per tenant (OIDC or SAML) or by e-mail domain,
 * callbacks, SP metadata, session introspection, logout (local, RP-initiated,
 * back-channel), and the exchange of a session for a workspace JWT. Operators sign
 * in at `/auth/_operators/...` through their own IdP. See docs/auth.md.
 */
import express, { Router, type Request, type Response } from 'express';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Services } from '../server/services.js';
import { badRequest, forbidden, HttpError, notFound, unauthorized } from '../server/errors.js';
import { log } from '../ops/log.js';
import type { SsoConfig } from '../auth/sso/config.js';
import { emailOf, mapClaims, referencedClaims, type Claims } from '../auth/sso/claims.js';
import { LoginError, endSessionUrl, finishLogin, startLogin, verifyLogoutToken, type OidcTransaction } from '../auth/sso/oidc.js';
import { finishSamlLogin, metadata, startSamlLogin } from '../auth/sso/saml.js';
import {
  CSRF_HEADER, MAX_SESSION_SECONDS, OPERATORS, SESSION_COOKIE, checkCsrf, ensureSessionKeys, newSessionClaims, readCookie, readSession,
  revoke, seal, unseal, wasUsed, type SessionClaims, type SessionKeys,
} from '../auth/sso/session.js';
import { issueWorkspaceToken, subsetOfGrants } from '../auth/sso/workspace-token.js';
import { findWorkspace, getTenant, listTenants } from '../tenancy/model.js';
import { masterKey, openSso } from '../tenancy/secrets.js';

const TX_COOKIE = 'colibri_login';
const TX_TTL = 600;

interface LoginTx extends Partial<OidcTransaction> {
  ten: string;
  via: 'oidc' | 'saml';
  ret: string;
}

export function authRouter(services: Services): Router {
  const router = Router();
  const { store, config } = services;
  let keys: Promise<SessionKeys> | undefined;
  const getKeys = (): Promise<SessionKeys> => (keys ??= ensureSessionKeys(store).catch((err: unknown) => {
    keys = undefined;
    throw err;
  }));
  const form = express.urlencoded({ extended: false, limit: '2mb', parameterLimit: 20 });
  const json = express.json({ limit: '64kb' });

  /**
   * A tenant's SSO configuration: from the config file for tenants defined there,
   * otherwise from the tenant's record in the state (tenants added or changed by
   * operators), with its client secret opened.
   */
  const tenantSso = (slug: string): SsoConfig | undefined => {
    if (slug === OPERATORS) return config.operators;
    const fromFile = config.tenants.find((t) => t.slug === slug);
    if (fromFile !== undefined) return fromFile.sso;
    const rec = getTenant(store, slug);
    return rec?.sso === undefined ? undefined : openSso(masterKey(config.dataDir), slug, rec.sso);
  };
  /** The tenant whose SSO takes users of this e-mail domain (its `sso.domains` or `emailDomains`). */
  const tenantForDomain = (domain: string): string | undefined => {
    for (const t of listTenants(store)) {
      const sso = tenantSso(t.slug);
      if (sso !== undefined && (sso.domains.includes(domain) || (t.emailDomains ?? []).includes(domain))) return t.slug;
    }
    return undefined;
  };
  /** The SSO configuration of a tenant slug (or `_operators`); 404 when none. */
  const ssoOf = (slug: string): SsoConfig => {
    const sso = tenantSso(slug);
    if (sso === undefined) throw notFound(`No single sign-on is configured for '${slug.slice(0, 64)}'`);
    return sso;
  };
  const param = (req: Request, name: string): string => String(req.params[name] ?? '');

  router.get('/login', (req, res) => {
    const email = typeof req.query.email === 'string' ? req.query.email.trim().toLowerCase() : '';
    const at = email.lastIndexOf('@');
    if (at < 1) throw badRequest('Pass ?email=<your work e-mail address>');
    const domain = email.slice(at + 1);
    const tenant = tenantForDomain(domain);
    if (tenant === undefined) throw notFound(`No tenant signs in users of ${domain.slice(0, 100)}`);
    const q = new URLSearchParams({ login_hint: email });
    if (typeof req.query.redirect === 'string') q.set('redirect', req.query.redirect);
    res.redirect(302, `/auth/${tenant}/login?${q}`);
  });

  router.get('/me', (req, res) => {
    const s = readSession(store, req);
    if (s === undefined) throw unauthorized('Not signed in');
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      subject: s.sub, email: s.email ?? null, name: s.name ?? null, tenant: s.ten === OPERATORS ? null : s.ten, operator: s.ten === OPERATORS,
      idp: s.idp, grants: s.grants, expires_at: new Date(s.exp * 1000).toISOString(), csrf_token: s.csrf,
    });
  });

  router.post('/logout', form, async (req, res) => {
    const s = readSession(store, req);
    clearCookie(res, SESSION_COOKIE, req);
    if (s === undefined) {
      res.status(204).end();
      return;
    }
    const given = req.headers[CSRF_HEADER] ?? (req.body as Record<string, unknown> | undefined)?.csrf;
    if (typeof given !== 'string' || !safeEqual(given, s.csrf)) throw forbidden('CSRF check failed: send the CSRF token (GET /auth/me) in X-Colibri-CSRF or the csrf form field');
    await revoke(store, [`session:${s.jti}`], s.exp + 60);
    log('info', 'sso logout', { tenant: s.ten, subject: s.sub });
    const sso = tenantSso(s.ten);
    const idpLogout = sso?.oidc !== undefined && s.idp === 'oidc' ? await endSessionUrl(s.ten, sso.oidc, `${origin(req, sso)}/auth/logged-out`) : undefined;
    if (idpLogout !== undefined) {
      res.setHeader('Cache-Control', 'no-store');
      res.status(303).setHeader('Location', idpLogout).json({ logout_url: idpLogout });
      return;
    }
    res.status(204).end();
  });

  router.get('/logged-out', (_req, res) => {
    page(res, 200, 'Signed out', 'You are signed out of Colibri.');
  });

  router.post('/token', form, json, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    let grants: SessionClaims['grants'];
    let tenant: string;
    let subject: string;
    if (body.grant_type === 'cli_code') {
      const k = await getKeys();
      const code = typeof body.code === 'string' ? unseal<{ ten: string; sub: string; grants: SessionClaims['grants']; chal: string; jti: string }>(k, 'cli-code', body.code) : undefined;
      if (code === undefined || typeof body.code_verifier !== 'string') throw badRequest('invalid or expired code');
      const chal = createHash('sha256').update(body.code_verifier).digest('base64url');
      if (!safeEqual(chal, code.chal)) throw badRequest('code_verifier does not match');
      if (wasUsed(store, `cli:${code.jti}`)) throw badRequest('code already used');
      await revoke(store, [`cli:${code.jti}`], Math.floor(Date.now() / 1000) + 120);
      ({ grants, ten: tenant, sub: subject } = code);
    } else {
      const s = readSession(store, req);
      if (s === undefined) throw unauthorized('Not signed in');
      checkCsrf(req, s);
      ({ grants, ten: tenant, sub: subject } = s);
    }
    if (tenant === OPERATORS) throw forbidden('Operator sessions do not get workspace tokens');
    const sso = ssoOf(tenant);
    const wsNames = [...new Set(grants.map((g) => g.workspace))];
    const wsName = typeof body.workspace === 'string' && body.workspace !== '' ? body.workspace : wsNames.length === 1 && wsNames[0] !== '*' ? wsNames[0]! : undefined;
    if (wsName === undefined) throw badRequest('Pass workspace=<name>');
    const ws = findWorkspace(store, tenant, wsName);
    if (ws === undefined) throw notFound(`Workspace '${wsName.slice(0, 64)}' not found`);
    const requested = typeof body.scopes === 'string' ? body.scopes.split(/[\s,]+/).filter((x) => x !== '') : Array.isArray(body.scopes) ? body.scopes.map(String) : undefined;
    const sub = subsetOfGrants(grants, wsName, requested);
    if (!sub.ok) throw forbidden(`Forbidden: your grants do not include ${sub.denied.slice(0, 200)}`);
    if (sub.scopes.length === 0) throw forbidden(`Forbidden: your session has no access to workspace '${wsName}'`);
    let ttl = sso.tokenTtlSeconds;
    if (body.ttl !== undefined) {
      const t = Number(body.ttl);
      if (!Number.isInteger(t) || t < 1) throw badRequest('ttl: expected a positive number of seconds');
      ttl = Math.min(ttl, t);
    }
    const token = await issueWorkspaceToken(store, { tenant, workspaceId: ws.id, workspace: ws.name, subject, scopes: sub.scopes, ttlSeconds: ttl });
    log('info', 'sso token exchange', { tenant, workspace: ws.name, subject, scopes: sub.scopes });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ token, token_type: 'Bearer', expires_in: ttl, workspace: ws.name, scopes: sub.scopes });
  });

  // `colibri login`: after the browser login, hand a one-time code to the CLI's loopback listener.
  router.get('/cli', async (req, res) => {
    const s = readSession(store, req);
    const port = Number(req.query.port);
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const chal = typeof req.query.challenge === 'string' ? req.query.challenge : '';
    if (!Number.isInteger(port) || port < 1024 || port > 65535 || !/^[\w-]{16,128}$/.test(state) || !/^[\w-]{43}$/.test(chal)) throw badRequest('bad CLI login parameters');
    if (s === undefined || s.ten === OPERATORS) throw unauthorized('Not signed in');
    const k = await getKeys();
    const code = await seal(k, 'cli-code', { ten: s.ten, sub: s.sub, grants: s.grants, chal, jti: randomBytes(16).toString('base64url') }, 120);
    res.redirect(302, `http://127.0.0.1:${port}/callback?${new URLSearchParams({ state, code })}`);
  });

  router.get('/:tenant/login', async (req, res) => {
    const slug = param(req, 'tenant');
    const sso = ssoOf(slug);
    const ret = safeRedirect(typeof req.query.redirect === 'string' ? req.query.redirect : '/auth/me', sso, req);
    const via = req.query.via === 'saml' || sso.oidc === undefined ? 'saml' : 'oidc';
    const k = await getKeys();
    const base = origin(req, sso);
    if (via === 'oidc') {
      const hint = typeof req.query.login_hint === 'string' && req.query.login_hint.length < 256 ? req.query.login_hint : undefined;
      const started = await withLoginErrors(res, slug, () => startLogin(slug, sso.oidc!, `${base}/auth/${slug}/callback`, hint));
      if (started === undefined) return;
      const { url, tx } = started;
      setCookie(res, TX_COOKIE, await seal(k, 'login', { ...tx, ten: slug, via, ret } satisfies LoginTx, TX_TTL), TX_TTL, req, sso, `/auth/${slug}/`);
      res.redirect(302, url);
      return;
    }
    const relay = await seal(k, 'relay', { ten: slug, ret }, TX_TTL);
    res.redirect(302, await startSamlLogin(slug, sso.saml!, `${base}/auth/${slug}/saml/acs`, relay));
  });

  router.get('/:tenant/callback', async (req, res) => {
    const slug = param(req, 'tenant');
    const sso = ssoOf(slug);
    if (sso.oidc === undefined) throw notFound('No OIDC provider for this tenant');
    const k = await getKeys();
    const raw = readCookie(req, TX_COOKIE);
    clearCookie(res, TX_COOKIE, req, `/auth/${slug}/`);
    const tx = raw === undefined ? undefined : unseal<LoginTx>(k, 'login', raw);
    if (tx === undefined || tx.ten !== slug || tx.via !== 'oidc' || tx.state === undefined || tx.nonce === undefined || tx.verifier === undefined) {
      return void page(res, 400, 'Sign-in failed', 'This sign-in attempt is unknown or expired (no login state). Start again from the login page.');
    }
    if (typeof req.query.error === 'string') {
      return void page(res, 401, 'Sign-in failed', `Your identity provider answered: ${req.query.error.slice(0, 100)}`);
    }
    const callbackUrl = new URL(`${origin(req, sso)}${req.originalUrl}`);
    const login = await withLoginErrors(res, slug, () => finishLogin(slug, sso.oidc!, callbackUrl, tx as OidcTransaction, referencedClaims(sso.rules)));
    if (login === undefined) return;
    await completeLogin(req, res, slug, sso, 'oidc', login.claims, tx.ret, k);
  });

  router.get('/:tenant/saml/metadata', (req, res) => {
    const slug = param(req, 'tenant');
    const sso = ssoOf(slug);
    if (sso.saml === undefined) throw notFound('No SAML provider for this tenant');
    res.type('application/samlmetadata+xml').send(metadata(slug, sso.saml, `${origin(req, sso)}/auth/${slug}/saml/acs`));
  });

  router.post('/:tenant/saml/acs', form, async (req, res) => {
    const slug = param(req, 'tenant');
    const sso = ssoOf(slug);
    if (sso.saml === undefined) throw notFound('No SAML provider for this tenant');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.SAMLResponse !== 'string') throw badRequest('SAMLResponse missing');
    const k = await getKeys();
    const claims = await withLoginErrors(res, slug, () => finishSamlLogin(store, slug, sso.saml!, `${origin(req, sso)}/auth/${slug}/saml/acs`, body.SAMLResponse as string));
    if (claims === undefined) return;
    const relay = typeof body.RelayState === 'string' ? unseal<{ ten: string; ret: string }>(k, 'relay', body.RelayState) : undefined;
    const ret = relay !== undefined && relay.ten === slug ? relay.ret : '/auth/me';
    await completeLogin(req, res, slug, sso, 'saml', claims, ret, k);
  });

  router.post('/:tenant/backchannel-logout', form, async (req, res) => {
    const slug = param(req, 'tenant');
    const sso = ssoOf(slug);
    res.setHeader('Cache-Control', 'no-store');
    const token = (req.body as Record<string, unknown> | undefined)?.logout_token;
    if (sso.oidc === undefined || typeof token !== 'string') {
      res.status(400).json({ error: 'invalid_request', error_description: 'logout_token missing' });
      return;
    }
    try {
      const lt = await verifyLogoutToken(slug, sso.oidc, token);
      if (wasUsed(store, `logout:${slug}:${lt.jti}`)) throw new LoginError('logout token already used', 400);
      const ids = [`logout:${slug}:${lt.jti}`];
      if (lt.sid !== undefined) ids.push(`sid:${slug}:${lt.sid}`);
      else if (lt.sub !== undefined) ids.push(`sub:${slug}:${lt.sub}`);
      await revoke(store, ids, Math.floor(Date.now() / 1000) + MAX_SESSION_SECONDS);
      log('info', 'sso back-channel logout', { tenant: slug, sid: lt.sid, subject: lt.sub });
      res.status(200).end();
    } catch (err) {
      if (!(err instanceof LoginError)) throw err;
      log('warn', 'sso back-channel logout refused', { tenant: slug, reason: err.message });
      res.status(400).json({ error: 'invalid_request', error_description: err.message });
    }
  });

  /** Map claims to grants, then set the session cookie or answer 403 (audited either way). */
  async function completeLogin(req: Request, res: Response, slug: string, sso: SsoConfig, idp: 'oidc' | 'saml', claims: Claims, ret: string, k: SessionKeys): Promise<void> {
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    if (sub === '') return void page(res, 401, 'Sign-in failed', 'Your identity provider sent no subject.');
    const email = emailOf(claims);
    const result = mapClaims(claims, sso.rules);
    log(result.ok ? 'info' : 'warn', 'sso login decision', {
      tenant: slug, idp, subject: sub, email, decision: result.ok ? 'allow' : 'deny', reason: result.ok ? undefined : result.reason,
      matchedRules: result.matched, grants: result.ok ? result.grants : [],
    });
    if (!result.ok) {
      return void page(res, 403, result.reason === 'groups_overage' ? 'Too many groups' : 'No access', result.message, result.reason);
    }
    const base = newSessionClaims({
      sub, ten: slug, idp, grants: result.grants,
      ...(email !== undefined ? { email } : {}),
      ...(typeof claims.name === 'string' ? { name: claims.name.slice(0, 200) } : {}),
      ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
    });
    const cookie = await seal(k, 'session', { ...base }, sso.sessionTtlSeconds);
    setCookie(res, SESSION_COOKIE, cookie, sso.sessionTtlSeconds, req, sso, '/');
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, ret);
  }

  return router;
}

/** Run a login step; LoginError becomes an error page (and undefined). */
async function withLoginErrors<T>(res: Response, tenant: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof LoginError)) throw err;
    log('warn', 'sso login failed', { tenant, reason: err.message });
    page(res, err.status, 'Sign-in failed', err.message);
    return undefined;
  }
}

/** The public origin: `publicUrl`, else from the request (Host, and the protocol per Express' trust proxy). */
function origin(req: Request, sso: SsoConfig | undefined): string {
  if (sso?.publicUrl !== undefined) return sso.publicUrl;
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * A post-login redirect target if the allow-list permits it, else 400. Paths must
 * be local (`/x`, never `//host` or `/\host`); absolute URLs must start with an
 * allowed prefix that ends the origin (so `https://a.com` does not allow `https://a.com.evil`).
 */
export function safeRedirect(target: string, sso: SsoConfig, req: Request): string {
  if (target.length > 2048 || /[\u0000-\u001f\\]/.test(target)) throw badRequest('redirect: not allowed');
  if (target.startsWith('/') && !target.startsWith('//')) {
    const url = new URL(target, 'http://x');
    if (url.host !== 'x') throw badRequest('redirect: not allowed');
    if (url.pathname === '/auth/cli') return target; // `colibri login` (loopback, PKCE-bound code)
    if (sso.allowedRedirects.some((p) => p.startsWith('/') && url.pathname.startsWith(p))) return target;
    throw badRequest('redirect: not in this tenant\'s allowedRedirects');
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw badRequest('redirect: not allowed');
  }
  const own = origin(req, sso);
  const allowed = sso.allowedRedirects.some((p) => {
    if (p.startsWith('/')) return url.origin === own && url.pathname.startsWith(p);
    const prefix = new URL(p);
    return url.origin === prefix.origin && url.pathname.startsWith(prefix.pathname);
  });
  if (!allowed) throw badRequest('redirect: not in this tenant\'s allowedRedirects');
  return url.href;
}

function isSecure(req: Request, sso: SsoConfig | undefined): boolean {
  return req.secure || (sso?.publicUrl?.startsWith('https:') ?? false);
}

function setCookie(res: Response, name: string, value: string, maxAge: number, req: Request, sso: SsoConfig, path: string): void {
  const secure = isSecure(req, sso) ? '; Secure' : '';
  res.append('Set-Cookie', `${name}=${value}; Path=${path}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`);
}

function clearCookie(res: Response, name: string, req: Request, path = '/'): void {
  const secure = req.secure ? '; Secure' : '';
  res.append('Set-Cookie', `${name}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Lax${secure}`);
}

function safeEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small HTML page (login outcomes are seen in a browser). */
function page(res: Response, status: number, title: string, message: string, reason?: string): void {
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('html').send(
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)} — Colibri</title></head>` +
      `<body><h1>${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p>` +
      (reason !== undefined ? `<p><small>reason: <code id="reason">${escapeHtml(reason)}</code></small></p>` : '') +
      '</body></html>',
  );
}

export { HttpError };
