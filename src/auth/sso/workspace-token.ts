/**
 * Workspace JWTs issued in exchange for an SSO session (`POST /auth/token`, and
 * `colibri login`). Signed with jose (ES256) by a per-tenant key kept in the
 * state store (`meta`, `sso.jwt-key.<tenant>`; the private key sealed with the
 * master key, `<data-dir>/master.key`); the public keys are what
 * `verifyWorkspaceToken` checks against. Scopes are always a subset of the
 * session's grants for that workspace (`subsetOfGrants`).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK, decodeJwt } from 'jose';
import type { StateStore } from '../../state/store.js';
import type { Grant } from './config.js';
import { authRuntime } from '../runtime.js';
import { seal, unseal } from '../seal.js';

export const WORKSPACE_TOKEN_ISSUER = 'colibri-sso';
const AUDIENCE = 'colibri-workspace';

interface JwtKeyRecord {
  readonly [key: string]: unknown;
  kid: string;
  /** In clear: older records, or no master key available. */
  privateJwk?: JWK;
  /** The private JWK as JSON, sealed with the master key. */
  sealedPrivateJwk?: string;
  publicJwk: JWK;
}

function sealContext(tenant: string, kid: string): string {
  return `colibri.sso.jwt-key.${tenant}.${kid}`;
}

/** The record as stored: the private key sealed when the master key is available. */
function storedRecord(store: StateStore, tenant: string, kid: string, privateJwk: JWK, publicJwk: JWK): JwtKeyRecord {
  const key = authRuntime(store)?.masterKey;
  if (key === undefined) return { kid, privateJwk, publicJwk };
  return { kid, sealedPrivateJwk: seal(key, JSON.stringify(privateJwk), sealContext(tenant, kid)), publicJwk };
}

function privateJwkOf(store: StateStore, tenant: string, rec: JwtKeyRecord): JWK {
  if (rec.privateJwk !== undefined) return rec.privateJwk;
  const key = authRuntime(store)?.masterKey;
  if (key === undefined || rec.sealedPrivateJwk === undefined) throw new Error('sso: the workspace-token key is sealed and no master key is loaded');
  return JSON.parse(unseal(key, rec.sealedPrivateJwk, sealContext(tenant, rec.kid)).toString('utf8')) as JWK;
}

async function tenantKey(store: StateStore, tenant: string): Promise<{ kid: string; privateJwk: JWK }> {
  const id = `sso.jwt-key.${tenant}`;
  const have = store.get<JwtKeyRecord>('meta', id);
  if (have !== undefined) {
    const privateJwk = privateJwkOf(store, tenant, have);
    // A private key in clear (older version): seal it, same key.
    if (have.sealedPrivateJwk === undefined && authRuntime(store) !== undefined) {
      await store.commit([{ op: 'put', collection: 'meta', id, value: storedRecord(store, tenant, have.kid, privateJwk, have.publicJwk) }]);
    }
    return { kid: have.kid, privateJwk };
  }
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  const rec = storedRecord(store, tenant, kid, privateJwk, { ...(await exportJWK(publicKey)), kid, alg: 'ES256' });
  await store.commit([{ op: 'put', collection: 'meta', id, value: rec }]);
  return { kid, privateJwk };
}

/** The scopes a session holds in one workspace (union of `*` and that workspace's grants). */
export function grantedScopes(grants: readonly Grant[], workspace: string): Set<string> {
  const out = new Set<string>();
  for (const g of grants) if (g.workspace === '*' || g.workspace === workspace) for (const s of g.scopes) out.add(s);
  return out;
}

/**
 * The requested scopes if every one is granted (ADMIN in the grants covers any
 * scope), else the first scope that is not. No request: exactly the grants.
 */
export function subsetOfGrants(grants: readonly Grant[], workspace: string, requested: readonly string[] | undefined): { ok: true; scopes: string[] } | { ok: false; denied: string } {
  const granted = grantedScopes(grants, workspace);
  if (requested === undefined || requested.length === 0) return { ok: true, scopes: [...granted] };
  for (const s of requested) if (!granted.has(s) && !granted.has('ADMIN')) return { ok: false, denied: s };
  return { ok: true, scopes: [...new Set(requested)] };
}

/** Sign a workspace JWT. */
export async function issueWorkspaceToken(store: StateStore, p: { tenant: string; workspaceId: string; workspace: string; subject: string; scopes: string[]; ttlSeconds: number }): Promise<string> {
  const key = await tenantKey(store, p.tenant);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ten: p.tenant, workspace_id: p.workspaceId, workspace: p.workspace, scopes: p.scopes, name: `sso:${p.subject}` })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
    .setIssuer(WORKSPACE_TOKEN_ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(p.subject)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + p.ttlSeconds)
    .sign(await importJWK(key.privateJwk, 'ES256'));
}

/** What a verified workspace JWT says. */
export interface WorkspaceTokenClaims {
  ten: string;
  workspace_id: string;
  workspace: string;
  scopes: string[];
  sub: string;
  exp: number;
}

/** Verify a workspace JWT of `tenant` (for the lead's authenticate wiring); undefined when invalid. */
export async function verifyWorkspaceToken(store: StateStore, tenant: string, token: string): Promise<WorkspaceTokenClaims | undefined> {
  const rec = store.get<JwtKeyRecord>('meta', `sso.jwt-key.${tenant}`);
  if (rec === undefined) return undefined;
  try {
    const { payload } = await jwtVerify(token, await importJWK(rec.publicJwk, 'ES256'), { issuer: WORKSPACE_TOKEN_ISSUER, audience: AUDIENCE, algorithms: ['ES256'] });
    if (payload.ten !== tenant || !Array.isArray(payload.scopes)) return undefined;
    return payload as unknown as WorkspaceTokenClaims;
  } catch {
    return undefined;
  }
}

/** The id of the tenant's current workspace-token key, if it has one. */
export function ssoKeyId(store: StateStore, tenant: string): string | undefined {
  return store.get<JwtKeyRecord>('meta', `sso.jwt-key.${tenant}`)?.kid;
}

/** The tenant a token claims to be an SSO workspace token of (unverified), or undefined. */
export function ssoTokenTenant(token: string): string | undefined {
  try {
    const claims = decodeJwt(token);
    return claims.iss === WORKSPACE_TOKEN_ISSUER && typeof claims.ten === 'string' ? claims.ten : undefined;
  } catch {
    return undefined;
  }
}

/** The tenant's public JWKS (for verifiers elsewhere). */
export function workspaceTokenJwks(store: StateStore, tenant: string): { keys: JWK[] } {
  const rec = store.get<JwtKeyRecord>('meta', `sso.jwt-key.${tenant}`);
  return { keys: rec === undefined ? [] : [rec.publicJwk] };
}
