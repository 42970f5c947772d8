/**
 * JWTs, Tinybird-compatible: claims `workspace_id`, `name`, `exp` (required),
 * `scopes` [{type, resource, fixed_params, filter}] and `limits.rps`.
 *
 * - Without `kid` in the header: HS256, signed with the workspace admin token (as in
 *   Tinybird). Only HS256 is accepted on that path.
 * - With `kid`: signed by one of the tenant's own keys (ES256 or EdDSA), see keys.ts.
 *   Only that key's algorithm is accepted, and the key must belong to the tenant of
 *   `workspace_id`.
 * Verification is done by jose with the algorithm pinned per key; `alg: none`,
 * algorithm confusion, tampering, expiry and `nbf` are all refused by it.
 */
import { SignJWT, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { webcrypto } from 'node:crypto';
import { HttpError, forbidden, unauthorized } from '../server/errors.js';
import { checkCondition } from '../catalog/conditions.js';
import { RESOURCE_NAME, type Scope } from './scopes.js';
import type { SigningAlgorithm } from './keys.js';

export type JwtAlgorithm = 'HS256' | SigningAlgorithm;
export type CryptoKey = webcrypto.CryptoKey;

/** A JWT scope as it appears in the token. */
export interface JwtScope {
  type: 'PIPES:READ' | 'DATASOURCES:READ';
  resource: string;
  fixed_params?: Record<string, FixedParam>;
  filter?: string;
}

export type FixedScalar = string | number | boolean;
export type FixedParam = FixedScalar | FixedScalar[];

/** What a verified JWT grants. */
export interface JwtGrant {
  workspaceId: string;
  name: string;
  scopes: Scope[];
  /** Per pipe: parameters the caller cannot override. */
  fixedParams: Record<string, Record<string, FixedParam>>;
  limits: { rps?: number };
  /** Expiry, epoch ms. */
  expMs: number;
}

/** How the verifier finds keys. Undefined means: no such key (the token is refused). */
export interface JwtKeys<R> {
  /** The HS256 key of a workspace (its admin token); `ref` says which key it was. */
  hsKey(workspaceId: string): Promise<{ key: CryptoKey; ref: R } | undefined>;
  /** A tenant key by kid, if it still verifies at `now`. */
  tenantKey(workspaceId: string, kid: string, now: number): Promise<{ key: CryptoKey; alg: SigningAlgorithm; ref: R } | undefined>;
}

const MAX_JWT_LENGTH = 16 * 1024;
const MAX_SCOPES = 256;
const MAX_NAME = 256;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_FIXED_PARAMS = 64;
const MAX_ARRAY = 1000;

/** Shape check only (three base64url parts, JSON header): is this meant to be a JWT? */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith('eyJ') && token.length <= MAX_JWT_LENGTH && token.split('.').length === 3;
}

/** The workspace a JWT claims, read without verification (for routing only). */
export function claimedWorkspace(token: string): { workspaceId: string; kid: string | undefined } | undefined {
  try {
    const header = decodeProtectedHeader(token);
    const payload = decodeJwt(token);
    if (typeof payload.workspace_id !== 'string') return undefined;
    if (header.kid !== undefined && typeof header.kid !== 'string') return undefined;
    return { workspaceId: payload.workspace_id, kid: header.kid };
  } catch {
    return undefined;
  }
}

/**
 * Verify a JWT and read what it grants. 401 for anything invalid; 403 once expired
 * (as Tinybird answers).
 */
export async function verifyJwt<R>(token: string, keys: JwtKeys<R>, now: number): Promise<{ grant: JwtGrant; alg: JwtAlgorithm; ref: R }> {
  if (!looksLikeJwt(token)) throw unauthorized('Invalid token');
  const claimed = claimedWorkspace(token);
  if (claimed === undefined) throw unauthorized('Invalid token');
  const found = claimed.kid === undefined ? await keys.hsKey(claimed.workspaceId) : await keys.tenantKey(claimed.workspaceId, claimed.kid, now);
  if (found === undefined) throw unauthorized('Invalid token');
  const key = found.key;
  const alg: JwtAlgorithm = 'alg' in found ? (found.alg as SigningAlgorithm) : 'HS256';
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: [alg], requiredClaims: ['exp'], currentDate: new Date(now) }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw forbidden('Invalid token: the JWT has expired');
    throw unauthorized('Invalid token');
  }
  const grant = readGrant(payload);
  if (grant.workspaceId !== claimed.workspaceId) throw unauthorized('Invalid token');
  return { grant, alg, ref: found.ref };
}

/** Validate the claims of a verified JWT (and each row filter, with the compiler). */
export function readGrant(payload: JWTPayload): JwtGrant {
  const bad = (why: string): HttpError => unauthorized(`Invalid token: ${why}`);
  if (typeof payload.workspace_id !== 'string') throw bad("'workspace_id' is required");
  if (typeof payload.name !== 'string' || payload.name === '' || payload.name.length > MAX_NAME) throw bad("'name' is required (1-256 characters)");
  if (typeof payload.exp !== 'number') throw bad("'exp' is required");
  const { scopes, fixedParams } = readJwtScopes(payload.scopes, bad);
  const limits: { rps?: number } = {};
  if (payload.limits !== undefined) {
    const l = payload.limits as { rps?: unknown };
    if (typeof l !== 'object' || l === null) throw bad("'limits' must be an object");
    if (l.rps !== undefined) {
      if (typeof l.rps !== 'number' || !Number.isInteger(l.rps) || l.rps <= 0 || l.rps > 1_000_000) throw bad("'limits.rps' must be a positive integer");
      limits.rps = l.rps;
    }
  }
  return { workspaceId: payload.workspace_id, name: payload.name, scopes, fixedParams, limits, expMs: payload.exp * 1000 };
}

/** Validate JWT scopes (also used when Colibri issues a JWT). `bad` builds the error. */
export function readJwtScopes(value: unknown, bad: (why: string) => HttpError): { scopes: Scope[]; fixedParams: Record<string, Record<string, FixedParam>> } {
  if (!Array.isArray(value)) throw bad("'scopes' must be an array");
  if (value.length > MAX_SCOPES) throw bad(`too many scopes (max ${MAX_SCOPES})`);
  const scopes: Scope[] = [];
  const fixedParams: Record<string, Record<string, FixedParam>> = Object.create(null) as Record<string, Record<string, FixedParam>>;
  for (const [i, item] of value.entries()) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(`scopes[${i}] must be an object`);
    const s = item as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!['type', 'resource', 'fixed_params', 'filter'].includes(k)) throw bad(`scopes[${i}].${k.slice(0, 40)}: unknown key`);
    if (s.type !== 'PIPES:READ' && s.type !== 'DATASOURCES:READ') throw bad(`scopes[${i}].type must be PIPES:READ or DATASOURCES:READ`);
    if (typeof s.resource !== 'string' || !RESOURCE_NAME.test(s.resource)) throw bad(`scopes[${i}].resource must be a data source or pipe name`);
    if (s.type === 'PIPES:READ') {
      if (s.filter !== undefined) throw bad(`scopes[${i}]: filter applies to DATASOURCES:READ only`);
      scopes.push({ type: 'PIPES:READ', resource: s.resource });
      if (s.fixed_params !== undefined) fixedParams[s.resource] = { ...fixedParams[s.resource], ...readFixedParams(s.fixed_params, `scopes[${i}].fixed_params`, bad) };
    } else {
      if (s.fixed_params !== undefined) throw bad(`scopes[${i}]: fixed_params apply to PIPES:READ only`);
      if (s.filter === undefined || s.filter === '') {
        scopes.push({ type: 'DATASOURCES:READ', resource: s.resource });
      } else {
        if (typeof s.filter !== 'string') throw bad(`scopes[${i}].filter must be a string`);
        try {
          checkCondition(s.filter, s.resource, `scopes[${i}].filter`);
        } catch (err) {
          if (err instanceof HttpError) throw bad(err.message);
          throw err;
        }
        scopes.push({ type: 'DATASOURCES:READ', resource: s.resource, filter: s.filter });
      }
    }
  }
  return { scopes, fixedParams };
}

function readFixedParams(value: unknown, at: string, bad: (why: string) => HttpError): Record<string, FixedParam> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${at} must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_FIXED_PARAMS) throw bad(`${at}: too many parameters (max ${MAX_FIXED_PARAMS})`);
  const out: Record<string, FixedParam> = Object.create(null) as Record<string, FixedParam>;
  for (const [k, v] of entries) {
    if (!PARAM_NAME.test(k)) throw bad(`${at}: '${k.slice(0, 40)}' is not a valid parameter name`);
    if (isScalar(v)) out[k] = v;
    else if (Array.isArray(v) && v.length <= MAX_ARRAY && v.every(isScalar)) out[k] = v as FixedScalar[];
    else throw bad(`${at}.${k}: expected a string, number, boolean or an array of them`);
  }
  return out;
}

function isScalar(v: unknown): v is FixedScalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

/** Sign a JWT with the given key (HS256 with the admin token, or a tenant key with its kid). */
export async function signJwt(
  claims: { workspace_id: string; name: string; exp: number; scopes: JwtScope[]; limits?: { rps: number } },
  key: CryptoKey,
  alg: JwtAlgorithm,
  kid?: string,
): Promise<string> {
  const header: { alg: JwtAlgorithm; typ: 'JWT'; kid?: string } = { alg, typ: 'JWT' };
  if (kid !== undefined) header.kid = kid;
  return new SignJWT({ ...claims }).setProtectedHeader(header).setIssuedAt().sign(key);
}
