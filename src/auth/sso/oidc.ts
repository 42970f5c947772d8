/**
 * OpenID Connect relying party for one tenant (or the operators), on
 * `openid-client` v6: authorization code flow with PKCE (S256), `state` and
 * `nonce`; the RFC 9207 `iss` response parameter is checked by openid-client when
 * the IdP sends it (and required when its metadata says it does).
 *
 * On top of openid-client's ID token claim checks (iss, aud, azp, exp, iat, nonce,
 * sub), the ID token's signature is verified here with `jose` against the IdP's
 * JWKS (openid-client does not verify signatures of ID tokens received over the
 * back channel): cached for `jwksMaxAgeSeconds`, re-fetched on an unknown `kid`
 * at most once per `jwksCooldownSeconds` (key rotation). Also refused: an `iat`
 * older than `maxIdTokenAgeSeconds`, and any audience besides the client id that
 * is not in `trustedAudiences` (OIDC Core 3.1.3.7 step 3).
 */
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { OidcConfig } from './config.js';
import type { Claims } from './claims.js';

/** A login that failed for a reason the user may see. */
export class LoginError extends Error {
  constructor(message: string, readonly status = 401) {
    super(message);
    this.name = 'LoginError';
  }
}

interface Discovered {
  config: client.Configuration;
  jwks: ReturnType<typeof createRemoteJWKSet>;
  at: number;
}

const discovered = new Map<string, { cfg: OidcConfig; p: Promise<Discovered> }>();

/** Discovery metadata and JWKS of an IdP, cached per key (tenant slug) for `discoveryTtlSeconds`. */
export async function discover(key: string, cfg: OidcConfig): Promise<Discovered> {
  const hit = discovered.get(key);
  if (hit !== undefined && hit.cfg === cfg) {
    try {
      const d = await hit.p;
      if (Date.now() - d.at < cfg.discoveryTtlSeconds * 1000) return d;
    } catch {
      // fall through: discover again
    }
  }
  const p = (async (): Promise<Discovered> => {
    const metadata: Partial<client.ClientMetadata> = { [client.clockTolerance]: cfg.clockToleranceSeconds };
    let auth: client.ClientAuth;
    if (cfg.clientSecret !== undefined) auth = client.ClientSecretBasic(cfg.clientSecret);
    else auth = client.None();
    let config: client.Configuration;
    try {
      config = await client.discovery(new URL(cfg.issuer), cfg.clientId, metadata, auth, {
        execute: cfg.allowInsecureHttp ? [client.allowInsecureRequests] : [],
        timeout: 10,
      });
    } catch (err) {
      throw new LoginError(`The identity provider's discovery document could not be loaded from ${cfg.issuer}: ${(err as Error).message}`, 502);
    }
    const jwksUri = config.serverMetadata().jwks_uri;
    if (jwksUri === undefined) throw new LoginError('The identity provider publishes no jwks_uri', 502);
    const jwks = createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: cfg.jwksMaxAgeSeconds * 1000,
      cooldownDuration: cfg.jwksCooldownSeconds * 1000,
      timeoutDuration: 10_000,
    });
    return { config, jwks, at: Date.now() };
  })();
  discovered.set(key, { cfg, p });
  p.catch(() => {
    if (discovered.get(key)?.p === p) discovered.delete(key);
  });
  return p;
}

/** What the login request remembers until the callback (kept in an encrypted cookie). */
export interface OidcTransaction {
  state: string;
  nonce: string;
  verifier: string;
}

/** The authorization URL to send the browser to, and the transaction to remember. */
export async function startLogin(key: string, cfg: OidcConfig, redirectUri: string, loginHint?: string): Promise<{ url: string; tx: OidcTransaction }> {
  const { config } = await discover(key, cfg);
  const verifier = client.randomPKCECodeVerifier();
  const tx: OidcTransaction = { state: client.randomState(), nonce: client.randomNonce(), verifier };
  const params: Record<string, string> = {
    ...cfg.extraAuthParams,
    redirect_uri: redirectUri,
    scope: cfg.scopes.join(' '),
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: tx.state,
    nonce: tx.nonce,
  };
  if (loginHint !== undefined) params.login_hint = loginHint;
  return { url: client.buildAuthorizationUrl(config, params).href, tx };
}

/** The result of a successful callback. */
export interface OidcLogin {
  claims: Claims;
  idToken: string;
}

/**
 * Complete the code flow: `callbackUrl` is the full URL the IdP redirected to.
 * `needClaims` are claim names the mapping rules read: when one is missing from
 * the ID token, userinfo is fetched and merged (ID token claims win).
 */
export async function finishLogin(key: string, cfg: OidcConfig, callbackUrl: URL, tx: OidcTransaction, needClaims: ReadonlySet<string>): Promise<OidcLogin> {
  const d = await discover(key, cfg);
  let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  try {
    tokens = await client.authorizationCodeGrant(d.config, callbackUrl, {
      pkceCodeVerifier: tx.verifier,
      expectedState: tx.state,
      expectedNonce: tx.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    throw new LoginError(`OIDC login failed: ${describe(err)}`);
  }
  const idToken = tokens.id_token;
  if (idToken === undefined) throw new LoginError('OIDC login failed: no ID token');
  const payload = await verifyIdToken(d, cfg, idToken);
  const claims: Claims = { ...payload };
  const missing = [...needClaims, 'email'].some((n) => claims[n] === undefined);
  const userinfoEndpoint = d.config.serverMetadata().userinfo_endpoint;
  if (missing && userinfoEndpoint !== undefined && typeof tokens.access_token === 'string') {
    try {
      const info = await client.fetchUserInfo(d.config, tokens.access_token, payload.sub!);
      for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v;
    } catch (err) {
      throw new LoginError(`OIDC login failed: userinfo: ${describe(err)}`);
    }
  }
  return { claims, idToken };
}

/** Signature (jose, JWKS with rotation), issuer, audience policy and age of an ID token. */
async function verifyIdToken(d: Discovered, cfg: OidcConfig, idToken: string): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, d.jwks, {
      issuer: d.config.serverMetadata().issuer,
      audience: cfg.clientId,
      algorithms: cfg.idTokenAlgorithms,
      clockTolerance: cfg.clockToleranceSeconds,
      maxTokenAge: cfg.maxIdTokenAgeSeconds,
      requiredClaims: ['sub', 'iat', 'exp'],
    }));
  } catch (err) {
    throw new LoginError(`OIDC login failed: ID token rejected: ${describe(err)}`);
  }
  const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const untrusted = auds.filter((a) => a !== cfg.clientId && !cfg.trustedAudiences.includes(String(a)));
  if (untrusted.length > 0) throw new LoginError(`OIDC login failed: ID token rejected: untrusted audience ${JSON.stringify(untrusted[0]).slice(0, 100)}`);
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new LoginError('OIDC login failed: ID token rejected: no sub');
  return payload;
}

/** The IdP's logout URL (RP-initiated logout), when it has an end_session_endpoint. */
export async function endSessionUrl(key: string, cfg: OidcConfig, postLogoutRedirectUri: string): Promise<string | undefined> {
  try {
    const { config } = await discover(key, cfg);
    if (config.serverMetadata().end_session_endpoint === undefined) return undefined;
    return client.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri }).href;
  } catch {
    return undefined;
  }
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A verified back-channel logout token (OIDC Back-Channel Logout 1.0, 2.6). */
export interface LogoutToken {
  sid?: string;
  sub?: string;
  jti: string;
  exp: number;
}

/** Validate a logout token with jose; throws LoginError (400) when it is not acceptable. */
export async function verifyLogoutToken(key: string, cfg: OidcConfig, token: string): Promise<LogoutToken> {
  const d = await discover(key, cfg);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, d.jwks, {
      issuer: d.config.serverMetadata().issuer,
      audience: cfg.clientId,
      algorithms: cfg.idTokenAlgorithms,
      clockTolerance: cfg.clockToleranceSeconds,
      maxTokenAge: 300,
      requiredClaims: ['iat', 'jti'],
    }));
  } catch (err) {
    throw new LoginError(`invalid logout token: ${describe(err)}`, 400);
  }
  const events = payload.events as Record<string, unknown> | undefined;
  if (typeof events !== 'object' || events === null || typeof events[BACKCHANNEL_EVENT] !== 'object' || events[BACKCHANNEL_EVENT] === null) {
    throw new LoginError('invalid logout token: no back-channel logout event', 400);
  }
  if (payload.nonce !== undefined) throw new LoginError('invalid logout token: it carries a nonce', 400);
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  if (sid === undefined && sub === undefined) throw new LoginError('invalid logout token: neither sid nor sub', 400);
  const now = Math.floor(Date.now() / 1000);
  return { sid, sub, jti: payload.jti!, exp: typeof payload.exp === 'number' ? payload.exp : now + 600 };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const oauthError = (err as { error?: unknown; error_description?: unknown }).error;
    if (typeof oauthError === 'string') {
      const d = (err as { error_description?: unknown }).error_description;
      return `${oauthError.slice(0, 100)}${typeof d === 'string' ? `: ${d.slice(0, 200)}` : ''}`;
    }
    const code = (err as { code?: unknown }).code;
    const msg = err.message.replace(/\s+/g, ' ').slice(0, 300);
    return typeof code === 'string' ? `${msg} (${code})` : msg;
  }
  return String(err).slice(0, 300);
}
