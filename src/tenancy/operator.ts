/**
 * Operator authentication for /v0/admin/*. The operator token is created at first
 * start in `<data-dir>/operator.token` (mode 0600); only its SHA-256 hash is kept, in
 * the state store's `meta` collection, and presented tokens are compared in constant
 * time. Workspace tokens are never accepted here, and the operator token is accepted
 * nowhere else. Operators signing in through their IdP (SSO, `operators` section)
 * get the same OperatorContext with the operator scopes their claims grant
 * (`operatorFromSession`, used by api/admin.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { StateStore, StateValue } from '../state/store.js';
import { writeFileDurable } from '../state/files.js';
import { log } from '../ops/log.js';

/**
 * `OPERATOR:READ` reads only; `OPERATOR:TENANTS` also adds and updates tenants;
 * `OPERATOR:ADMIN` may do everything, including removing tenants.
 */
export type OperatorScope = 'OPERATOR:READ' | 'OPERATOR:TENANTS' | 'OPERATOR:ADMIN';

/** What an admin route needs. */
export type OperatorAction = 'read' | 'write' | 'remove';

export interface OperatorContext {
  kind: 'operator';
  /** How the operator authenticated. */
  via: 'token' | 'sso';
  /** Who: 'operator token', or the signed-in operator's subject/email. */
  subject: string;
  scopes: readonly OperatorScope[];
}

export const ALL_OPERATOR_SCOPES: readonly OperatorScope[] = Object.freeze(['OPERATOR:READ', 'OPERATOR:TENANTS', 'OPERATOR:ADMIN']);

/** Whether these scopes allow the action. */
export function operatorMay(scopes: readonly OperatorScope[], action: OperatorAction): boolean {
  if (scopes.includes('OPERATOR:ADMIN')) return true;
  if (action === 'remove') return false;
  if (action === 'write') return scopes.includes('OPERATOR:TENANTS');
  return scopes.includes('OPERATOR:READ') || scopes.includes('OPERATOR:TENANTS');
}

/** The scope an action needs at least (for error messages). */
export function scopeFor(action: OperatorAction): OperatorScope {
  return action === 'remove' ? 'OPERATOR:ADMIN' : action === 'write' ? 'OPERATOR:TENANTS' : 'OPERATOR:READ';
}

/** The operator context of a signed-in operator: the operator scopes of its grants only. */
export function operatorFromSession(subject: string, grants: ReadonlyArray<{ scopes: readonly string[] }>): OperatorContext {
  const scopes = new Set<OperatorScope>();
  for (const g of grants) for (const s of g.scopes) if ((ALL_OPERATOR_SCOPES as readonly string[]).includes(s)) scopes.add(s as OperatorScope);
  return { kind: 'operator', via: 'sso', subject, scopes: [...scopes] };
}

const META_ID = 'operator_token';
const PREFIX = 'op.';

interface OperatorTokenRecord extends StateValue {
  sha256: string;
  createdAt: string;
}

export function operatorTokenFile(dataDir: string): string {
  return path.join(dataDir, 'operator.token');
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The operator token file exists and matches the stored hash; otherwise a new token is
 * issued (the old one stops working). Returns the file path.
 */
export async function ensureOperatorToken(store: StateStore, dataDir: string): Promise<string> {
  const file = operatorTokenFile(dataDir);
  const stored = store.get<OperatorTokenRecord>('meta', META_ID);
  if (stored !== undefined && existsSync(file)) {
    const value = readFileSync(file, 'utf8').trim();
    if (digest(value).toString('hex') === stored.sha256) return file;
  }
  if (stored !== undefined) log('warn', 'operator token file missing or changed: issued a new operator token', { file });
  const token = PREFIX + randomBytes(32).toString('base64url');
  const record: OperatorTokenRecord = { sha256: digest(token).toString('hex'), createdAt: new Date().toISOString() };
  await store.commit([{ op: 'put', collection: 'meta', id: META_ID, value: record }]);
  writeFileDurable(file, token + '\n');
  return file;
}

/** The operator context for a presented token, or undefined (constant-time comparison). */
export function verifyOperatorToken(store: StateStore, presented: string): OperatorContext | undefined {
  const stored = store.get<OperatorTokenRecord>('meta', META_ID);
  if (stored === undefined || !presented.startsWith(PREFIX)) return undefined;
  const expected = Buffer.from(stored.sha256, 'hex');
  const actual = digest(presented);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return { kind: 'operator', via: 'token', subject: 'operator token', scopes: ALL_OPERATOR_SCOPES };
}
