/**
 * Per-tenant asymmetric signing keys (ES256 or EdDSA) for JWTs that Colibri signs
 * itself. The public keys are published at `/.well-known/jwks.json`; private keys are
 * kept sealed (AES-256-GCM under the master key) in the state store.
 *
 * Rotation: a key becomes "retired" `keyRotationSeconds` after its creation, when a
 * new current key replaces it; a retired key still verifies tokens (and stays in the
 * JWKS) for `keyGraceSeconds`, then it is removed. Rotation is checked on every
 * request (at most once a second per process) and when the JWKS is read.
 *
 * The keyring of tenant `<slug>` is one record `signing-keys:<slug>` of the `meta`
 * collection.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Mutation, StateStore } from '../state/store.js';
import { seal } from './seal.js';

export type SigningAlgorithm = 'ES256' | 'EdDSA';

export interface SigningKeyRecord {
  readonly [key: string]: unknown;
  kid: string;
  alg: SigningAlgorithm;
  /** Public JWK (kty, crv, x[, y]). */
  publicJwk: Readonly<Record<string, string>>;
  /** PKCS#8 PEM of the private key, sealed with context `signingKeyContext(tenant, kid)`. */
  sealedPrivateKey: string;
  createdAt: string;
  /** When a newer key replaced it; verification stops `keyGraceSeconds` later. */
  retiredAt?: string;
}

export interface KeyringRecord {
  readonly [key: string]: unknown;
  id: string;
  tenant: string;
  keys: SigningKeyRecord[];
}

export interface RotationPolicy {
  algorithm: SigningAlgorithm;
  rotationMs: number;
  graceMs: number;
}

export interface KeyringChange {
  record: KeyringRecord;
  created?: SigningKeyRecord;
  retired?: SigningKeyRecord;
  removed: SigningKeyRecord[];
}

export const keyringId = (tenant: string): string => `signing-keys:${tenant}`;
export const signingKeyContext = (tenant: string, kid: string): string => `signing-key:${tenant}:${kid}`;

export function readKeyring(store: StateStore, tenant: string): readonly SigningKeyRecord[] {
  return store.get<KeyringRecord>('meta', keyringId(tenant))?.keys ?? [];
}

/** The key that signs new tokens: the newest one not retired. */
export function currentKey(keys: readonly SigningKeyRecord[]): SigningKeyRecord | undefined {
  for (let i = keys.length - 1; i >= 0; i--) if (keys[i]!.retiredAt === undefined) return keys[i];
  return undefined;
}

/** Whether a key may verify a token at `now`: current, or retired less than `graceMs` ago. */
export function keyVerifies(key: SigningKeyRecord, now: number, graceMs: number): boolean {
  return key.retiredAt === undefined || Date.parse(key.retiredAt) + graceMs > now;
}

/** A new key pair; the private half sealed with the master key. */
export function generateSigningKey(tenant: string, alg: SigningAlgorithm, masterKey: Buffer, now: number): SigningKeyRecord {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const kid = randomBytes(16).toString('base64url');
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const publicJwk: Record<string, string> = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, ...(jwk.y === undefined ? {} : { y: jwk.y }) };
  const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  return { kid, alg, publicJwk, sealedPrivateKey: seal(masterKey, pem, signingKeyContext(tenant, kid)), createdAt: new Date(now).toISOString() };
}

/**
 * What the keyring should become at `now`: a first key, a rotation when the current
 * key is due, and expired keys removed. Undefined when nothing changes.
 */
export function planKeyring(tenant: string, keys: readonly SigningKeyRecord[], policy: RotationPolicy, masterKey: Buffer, now: number): KeyringChange | undefined {
  const removed = keys.filter((k) => !keyVerifies(k, now, policy.graceMs));
  let next = keys.filter((k) => keyVerifies(k, now, policy.graceMs));
  const current = currentKey(next);
  let created: SigningKeyRecord | undefined;
  let retired: SigningKeyRecord | undefined;
  const due = current === undefined || Date.parse(current.createdAt) + policy.rotationMs <= now || current.alg !== policy.algorithm;
  if (due) {
    created = generateSigningKey(tenant, policy.algorithm, masterKey, now);
    if (current !== undefined) {
      retired = { ...current, retiredAt: new Date(now).toISOString() };
      next = next.map((k) => (k.kid === current.kid ? retired! : k));
    }
    next = [...next, created];
  }
  if (!due && removed.length === 0) return undefined;
  return { record: { id: keyringId(tenant), tenant, keys: next }, removed, ...(created === undefined ? {} : { created }), ...(retired === undefined ? {} : { retired }) };
}

export function keyringMutation(change: KeyringChange): Mutation {
  return { op: 'put', collection: 'meta', id: change.record.id, value: change.record };
}

/** The public keys a JWKS publishes for these keyrings at `now`. */
export function publicJwks(keyrings: ReadonlyArray<readonly SigningKeyRecord[]>, now: number, graceMs: number): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const keys of keyrings) {
    for (const k of keys) if (keyVerifies(k, now, graceMs)) out.push({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' });
  }
  return out;
}

export type { KeyObject };
