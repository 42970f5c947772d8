/**
 * Stateless SSO sessions. A session is a cookie holding a nested JWT: an HS256 JWS
 * (subject, tenant, grants, expiry, CSRF secret) encrypted as a compact JWE
 * (`dir`, A256GCM). Both are made with `jose`. Nothing is written per login;
 * the only server-side state is a small revocation list (collection
 * `revocations`) fed by logout and back-channel logout.
 *
 * Verification runs on every request, synchronously, with node:crypto (AES-GCM
 * and HMAC-SHA256 on the exact headers we produce): `authenticate()` is
 * synchronous and this is the hot path. Unit tests check that what jose writes
 * is what this reads and vice versa.
 *
 * The keys (32 random bytes each) are kept in the state store (`meta`,
 * `sso.session-keys`) so that several instances sharing state accept each
 * other's cookies, sealed with the master key (`<data-dir>/master.key`) once the
 * auth runtime is configured (records in clear from older versions are read, and
 * sealed by `ensureSessionKeys`).
 */
import { createDecipheriv, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { CompactEncrypt, SignJWT } from 'jose';
import type { StateStore, Mutation } from '../../state/store.js';
import type { AuthContext } from '../context.js';
import { parseScope, type Scope } from '../scopes.js';
import type { TokenRecord } from '../tokens.js';
import { HttpError, badRequest, forbidden } from '../../server/errors.js';
import { findWorkspace, getTenant, listWorkspaces } from '../../tenancy/model.js';
import { authRuntime } from '../runtime.js';
import { seal as sealSecret, unseal as unsealSecret } from '../seal.js';
import type { Grant } from './config.js';

export const SESSION_COOKIE = 'colibri_session';
export const CSRF_HEADER = 'x-colibri-csrf';
export const WORKSPACE_HEADER = 'x-colibri-workspace';
/** The pseudo-tenant of operator sessions (never a valid tenant slug). */
export const OPERATORS = '_operators';

const ISSUER = 'colibri';
const KEYS_ID = 'sso.session-keys';

/** What a session cookie says. */
export interface SessionClaims {
  /** Subject at the IdP. */
  sub: string;
  /** Tenant slug, or `_operators`. */
  ten: string;
  idp: 'oidc' | 'saml';
  grants: Grant[];
  email?: string;
  name?: string;
  /** The IdP's session id (OIDC `sid`), for back-channel logout. */
  sid?: string;
  /** Double-submit secret: unsafe cookie-authenticated requests send it in X-Colibri-CSRF. */
  csrf: string;
  /** Issued at, in milliseconds (revocations by sid/sub compare with it). */
  tms: number;
  jti: string;
  iat: number;
  exp: number;
}

interface KeyRecord {
  readonly [key: string]: unknown;
  kid: string;
  /** Clear keys (older records, or no master key available). */
  enc?: string;
  sig?: string;
  /** `{enc, sig}` as JSON, sealed with the master key. */
  sealed?: string;
  createdAt: string;
}

function sealContext(kid: string): string {
  return `colibri.sso.session-keys.${kid}`;
}

/** The clear keys of a record, or undefined when they cannot be opened here. */
function openRecord(store: StateStore, rec: KeyRecord): { enc: string; sig: string } | undefined {
  if (rec.sealed === undefined) return rec.enc !== undefined && rec.sig !== undefined ? { enc: rec.enc, sig: rec.sig } : undefined;
  const key = authRuntime(store)?.masterKey;
  if (key === undefined) return undefined;
  return JSON.parse(unsealSecret(key, rec.sealed, sealContext(rec.kid)).toString('utf8')) as { enc: string; sig: string };
}

/** The record as stored: sealed when the master key is available. */
function storedRecord(store: StateStore, kid: string, keys: { enc: string; sig: string }, createdAt: string): KeyRecord {
  const key = authRuntime(store)?.masterKey;
  if (key === undefined) return { kid, ...keys, createdAt };
  return { kid, sealed: sealSecret(key, JSON.stringify(keys), sealContext(kid)), createdAt };
}

/** Decoded keys and the exact protected headers we emit (compared byte for byte). */
export interface SessionKeys {
  kid: string;
  enc: Buffer;
  sig: Buffer;
  jweHeader: string;
  jwsHeader: string;
}

const loaded = new WeakMap<KeyRecord, SessionKeys>();

function decodeKeys(store: StateStore, rec: KeyRecord): SessionKeys | undefined {
  let k = loaded.get(rec);
  if (k === undefined) {
    let raw: { enc: string; sig: string } | undefined;
    try {
      raw = openRecord(store, rec);
    } catch {
      raw = undefined; // sealed with another master key
    }
    if (raw === undefined) return undefined;
    k = {
      kid: rec.kid,
      enc: Buffer.from(raw.enc, 'base64url'),
      sig: Buffer.from(raw.sig, 'base64url'),
      jweHeader: b64json({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: rec.kid }),
      jwsHeader: b64json({ alg: 'HS256', kid: rec.kid }),
    };
    loaded.set(rec, k);
  }
  return k;
}

function b64json(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/** The session keys, or undefined when none were created yet. */
export function sessionKeys(store: StateStore): SessionKeys | undefined {
  const rec = store.get<KeyRecord>('meta', KEYS_ID);
  return rec === undefined ? undefined : decodeKeys(store, rec);
}

/** Create the session keys if missing (idempotent). */
export async function ensureSessionKeys(store: StateStore): Promise<SessionKeys> {
  const existing = store.get<KeyRecord>('meta', KEYS_ID);
  const have = sessionKeys(store);
  if (existing !== undefined && have !== undefined) {
    // A record in clear (older version): seal it, same keys (live cookies keep working).
    if (existing.sealed === undefined && authRuntime(store) !== undefined) {
      const clear = openRecord(store, existing)!;
      await store.commit([{ op: 'put', collection: 'meta', id: KEYS_ID, value: storedRecord(store, existing.kid, clear, existing.createdAt) }]);
    }
    return have;
  }
  if (existing !== undefined) throw new Error('sso: the session keys are sealed with another master key (give this instance the same <data-dir>/master.key)');
  const rec = storedRecord(store, randomUUID(), { enc: randomBytes(32).toString('base64url'), sig: randomBytes(32).toString('base64url') }, new Date().toISOString());
  await store.commit([{ op: 'put', collection: 'meta', id: KEYS_ID, value: rec }]);
  return sessionKeys(store)!;
}

/** Sign then encrypt `claims` for audience `aud` (jose). */
export async function seal(keys: SessionKeys, aud: string, claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jws = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: keys.kid })
    .setIssuer(ISSUER)
    .setAudience(aud)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(keys.sig);
  return new CompactEncrypt(new TextEncoder().encode(jws))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: keys.kid })
    .encrypt(keys.enc);
}

/**
 * Decrypt and verify what `seal` produced, synchronously. Undefined when the
 * token is malformed, not ours, tampered, for another audience, or expired.
 */
export function unseal<T extends object>(keys: SessionKeys, aud: string, token: string, nowSeconds = Math.floor(Date.now() / 1000)): (T & { iat: number; exp: number }) | undefined {
  if (token.length > 8192) return undefined;
  const p = token.split('.');
  if (p.length !== 5 || p[0] !== keys.jweHeader || p[1] !== '') return undefined;
  let inner: string;
  try {
    const iv = Buffer.from(p[2]!, 'base64url');
    const tag = Buffer.from(p[4]!, 'base64url');
    if (iv.length !== 12 || tag.length !== 16) return undefined;
    const d = createDecipheriv('aes-256-gcm', keys.enc, iv, { authTagLength: 16 });
    d.setAAD(Buffer.from(p[0]!, 'ascii'));
    d.setAuthTag(tag);
    inner = Buffer.concat([d.update(Buffer.from(p[3]!, 'base64url')), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
  const dot1 = inner.indexOf('.');
  const dot2 = inner.indexOf('.', dot1 + 1);
  if (dot1 < 0 || dot2 < 0 || inner.slice(0, dot1) !== keys.jwsHeader) return undefined;
  const mac = createHmac('sha256', keys.sig).update(inner.slice(0, dot2)).digest();
  const given = Buffer.from(inner.slice(dot2 + 1), 'base64url');
  if (given.length !== mac.length || !timingSafeEqual(given, mac)) return undefined;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(inner.slice(dot1 + 1, dot2), 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (claims.iss !== ISSUER || claims.aud !== aud) return undefined;
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return undefined;
  if (claims.exp <= nowSeconds || claims.iat > nowSeconds + 60) return undefined;
  return claims as T & { iat: number; exp: number };
}

/** A named cookie of the request (first occurrence), or undefined. */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The verified, unrevoked session of a request, or undefined. */
export function readSession(store: StateStore, req: Pick<Request, 'headers'>): SessionClaims | undefined {
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie === undefined) return undefined;
  const keys = sessionKeys(store);
  if (keys === undefined) return undefined;
  const claims = unseal<SessionClaims>(keys, 'session', cookie);
  if (claims === undefined || typeof claims.sub !== 'string' || typeof claims.ten !== 'string' || !Array.isArray(claims.grants)) return undefined;
  if (isRevoked(store, claims)) return undefined;
  return claims;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Throws 403 when an unsafe request authenticated by the cookie lacks the CSRF secret. */
export function checkCsrf(req: Pick<Request, 'headers' | 'method'>, claims: SessionClaims): void {
  if (SAFE_METHODS.has(req.method)) return;
  const given = req.headers[CSRF_HEADER];
  const ok = typeof given === 'string' && given.length === claims.csrf.length && timingSafeEqual(Buffer.from(given), Buffer.from(claims.csrf));
  if (!ok) throw forbidden(`CSRF check failed: a request authenticated by the session cookie must send the session's CSRF token (GET /auth/me) in the X-Colibri-CSRF header`);
}

/**
 * For `authenticate()`: the AuthContext of a request carrying a valid session
 * cookie, or undefined when there is no (valid) session cookie.
 *
 * The workspace is the `X-Colibri-Workspace` header or `?workspace=`; when absent,
 * the only workspace the session can reach. Throws 400 when it is ambiguous, 403
 * when the session has no grant for it or when a state-changing request lacks the
 * CSRF header. Operator sessions give no workspace access (undefined).
 */
export function sessionContext(store: StateStore, req: Request): AuthContext | undefined {
  const claims = readSession(store, req);
  if (claims === undefined || claims.ten === OPERATORS) return undefined;
  checkCsrf(req, claims);
  const tenant = getTenant(store, claims.ten);
  if (tenant === undefined) return undefined;
  const header = req.headers[WORKSPACE_HEADER];
  const query = req.query?.workspace;
  let name = typeof header === 'string' && header !== '' ? header : typeof query === 'string' && query !== '' ? query : undefined;
  if (name === undefined) {
    const named = claims.grants.filter((g) => g.workspace !== '*').map((g) => g.workspace);
    const candidates = claims.grants.some((g) => g.workspace === '*') ? listWorkspaces(store, tenant.slug).map((w) => w.name) : named;
    const unique = [...new Set(candidates)];
    if (unique.length !== 1) throw badRequest(`This session can reach several workspaces (${unique.join(', ')}): say which one with the X-Colibri-Workspace header or ?workspace=`);
    name = unique[0]!;
  }
  const workspace = findWorkspace(store, tenant.slug, name);
  const scopeTexts = new Set<string>();
  for (const g of claims.grants) if (g.workspace === '*' || g.workspace === name) for (const s of g.scopes) scopeTexts.add(s);
  if (workspace === undefined || scopeTexts.size === 0) throw forbidden(`Forbidden: your session has no access to workspace '${name.slice(0, 64)}'`);
  const scopes: Scope[] = [...scopeTexts].map(parseScope);
  const token: TokenRecord = {
    id: `session:${claims.jti}`,
    workspaceId: workspace.id,
    name: `session of ${claims.email ?? claims.sub}`,
    description: 'SSO session',
    scopes,
    secretHash: '',
    origin: 'user',
    createdAt: new Date(claims.iat * 1000).toISOString(),
    updatedAt: new Date(claims.iat * 1000).toISOString(),
  };
  return { tenant, workspace, token, scopes, isAdmin: scopes.some((s) => s.type === 'ADMIN') };
}

/** New session claims (jti and CSRF secret are fresh). */
export function newSessionClaims(base: Omit<SessionClaims, 'jti' | 'csrf' | 'iat' | 'exp' | 'tms'>): Omit<SessionClaims, 'iat' | 'exp'> {
  return { ...base, jti: randomUUID(), csrf: randomBytes(24).toString('base64url'), tms: Date.now() };
}

// ---------------------------------------------------------------- revocations

interface Revocation {
  readonly [key: string]: unknown;
  /** Sessions issued at or before this time (milliseconds) are revoked. */
  at: number;
  /** The record can be dropped after this time (seconds). */
  until: number;
}

/** Longest session lifetime anywhere: revocation records live this long. */
export const MAX_SESSION_SECONDS = 7 * 24 * 3600;

function isRevoked(store: StateStore, c: SessionClaims): boolean {
  if (store.get('revocations', `session:${c.jti}`) !== undefined) return true;
  if (c.sid !== undefined) {
    const r = store.get<Revocation>('revocations', `sid:${c.ten}:${c.sid}`);
    if (r !== undefined && issuedMs(c) <= r.at) return true;
  }
  const r = store.get<Revocation>('revocations', `sub:${c.ten}:${c.sub}`);
  return r !== undefined && issuedMs(c) <= r.at;
}

function issuedMs(c: SessionClaims): number {
  return typeof c.tms === 'number' ? c.tms : c.iat * 1000 + 999;
}

/**
 * Record revocations: `session:<jti>`, `sid:<tenant>:<sid>`, `sub:<tenant>:<sub>`,
 * or a used one-time id (`saml:<tenant>:<assertion id>`, `logout:<tenant>:<jti>`).
 * Expired records are pruned in the same commit.
 */
export async function revoke(store: StateStore, ids: readonly string[], untilSeconds: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const muts: Mutation[] = ids.map((id) => ({ op: 'put', collection: 'revocations', id, value: { id, at: Date.now(), until: untilSeconds } }));
  let pruned = 0;
  for (const rec of store.list<Revocation & { id?: string }>('revocations')) {
    if (pruned >= 100) break;
    if (rec.until < now && typeof rec.id === 'string' && !ids.includes(rec.id)) {
      muts.push({ op: 'delete', collection: 'revocations', id: rec.id });
      pruned++;
    }
  }
  await store.commit(muts);
}

/** Whether a one-time id was already used (SAML assertion ids, logout token jti). */
export function wasUsed(store: StateStore, id: string): boolean {
  return store.get('revocations', id) !== undefined;
}

/** Re-exported for callers that turn a failed check into a response. */
export { HttpError };
