/**
 * Static tokens. A token reads `p.<routing>.<secret>`:
 * - `routing` is base64url JSON `{"u": <workspace id>, "id": <token id>}`: not secret,
 *   it only says where to look;
 * - `secret` is 32 random bytes (256 bits), base64url.
 * Only SHA-256(secret) is stored; a presented token is checked in constant time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../state/store.js';
import type { Scope } from './scopes.js';

export interface TokenRecord {
  readonly [key: string]: unknown;
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  scopes: Scope[];
  /** hex SHA-256 of the secret part. */
  secretHash: string;
  /** 'admin' is the workspace admin token created with the workspace. */
  origin: 'admin' | 'user';
  /**
   * Admin tokens only: the full token, sealed with the master key (see seal.ts and
   * `adminSealContext`). It is the HS256 key of the workspace's JWTs; a new secret
   * drops it (the server seals the new one).
   */
  sealedSecret?: string;
  createdAt: string;
  updatedAt: string;
}

export interface IssuedToken {
  record: TokenRecord;
  /** The full token: shown once, never stored. */
  token: string;
}

/** Longer presented tokens are refused without any lookup. */
export const MAX_STATIC_TOKEN_LENGTH = 512;
const MAX_TOKEN_LENGTH = MAX_STATIC_TOKEN_LENGTH;

/** Create a token record and its secret. The caller commits the record. */
export function issueToken(workspaceId: string, name: string, description: string, scopes: Scope[], origin: 'admin' | 'user'): IssuedToken {
  const id = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  const now = new Date().toISOString();
  const record: TokenRecord = { id, workspaceId, name, description, scopes, secretHash: hashSecret(secret), origin, createdAt: now, updatedAt: now };
  return { record, token: formatToken(workspaceId, id, secret) };
}

/** A new secret for an existing token: same id, name and scopes; the old secret stops working once committed. */
export function rotateSecret(record: TokenRecord): IssuedToken {
  const secret = randomBytes(32).toString('base64url');
  const { sealedSecret: _dropped, ...rest } = record;
  const updated: TokenRecord = { ...rest, secretHash: hashSecret(secret), updatedAt: new Date().toISOString() };
  return { record: updated, token: formatToken(record.workspaceId, record.id, secret) };
}

/** The sealing context of an admin token's secret: bound to its id and current hash. */
export function adminSealContext(record: TokenRecord): string {
  return `admin-token:${record.workspaceId}:${record.id}:${record.secretHash}`;
}

/** The hash that `token` (a full static token) must match to be this record's. */
export function matchesRecord(record: TokenRecord, token: string): boolean {
  const dot = token.lastIndexOf('.');
  if (!token.startsWith('p.') || dot < 2) return false;
  const expected = Buffer.from(record.secretHash, 'hex');
  const actual = createHash('sha256').update(token.slice(dot + 1)).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual) && token === formatToken(record.workspaceId, record.id, token.slice(dot + 1));
}

function formatToken(workspaceId: string, id: string, secret: string): string {
  const routing = Buffer.from(JSON.stringify({ u: workspaceId, id })).toString('base64url');
  return `p.${routing}.${secret}`;
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The token record a presented token stands for, or undefined. Malformed,
 * unknown, or wrong-secret tokens all give undefined (the caller answers 401).
 */
export function verifyStaticToken(store: StateStore, presented: string): TokenRecord | undefined {
  if (presented.length > MAX_TOKEN_LENGTH || !presented.startsWith('p.')) return undefined;
  const dot = presented.indexOf('.', 2);
  if (dot < 0) return undefined;
  let routing: unknown;
  try {
    routing = JSON.parse(Buffer.from(presented.slice(2, dot), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof routing !== 'object' || routing === null) return undefined;
  const { u, id } = routing as { u?: unknown; id?: unknown };
  if (typeof u !== 'string' || typeof id !== 'string') return undefined;
  const record = store.get<TokenRecord>('tokens', id);
  if (record === undefined || record.workspaceId !== u) return undefined;
  const expected = Buffer.from(record.secretHash, 'hex');
  const actual = createHash('sha256').update(presented.slice(dot + 1)).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return record;
}

export function listTokens(store: StateStore, workspaceId: string): TokenRecord[] {
  return store.list<TokenRecord>('tokens').filter((t) => t.workspaceId === workspaceId);
}

export function findToken(store: StateStore, workspaceId: string, nameOrId: string): TokenRecord | undefined {
  return listTokens(store, workspaceId).find((t) => t.id === nameOrId || t.name === nameOrId);
}
