/**
 * The per-server state of authentication: master key, HS256 and tenant keys
 * (decrypted, imported once), the cache of verified JWTs, the rate limiter, and key
 * rotation. One runtime per state store (`configureAuth`), so that `authenticate`
 * keeps its `(store, req)` signature.
 */
import { ssoKeyId } from './sso/workspace-token.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import { importJWK, importPKCS8 } from 'jose';
import type { AuthConfig } from '../server/config.js';
import type { StateStore } from '../state/store.js';
import { LruCache } from '../compiler/lru.js';
import { getWorkspace, listTenants, listWorkspaces } from '../tenancy/model.js';
import { log } from '../ops/log.js';
import { recordAudit } from '../ops/audit.js';
import { loadMasterKey, seal, unseal } from './seal.js';
import { adminSealContext, listTokens, matchesRecord, type TokenRecord } from './tokens.js';
import { currentKey, keyVerifies, keyringMutation, planKeyring, readKeyring, signingKeyContext, type SigningAlgorithm, type SigningKeyRecord } from './keys.js';
import { MemoryRateLimiter, type RateLimiter } from './ratelimit.js';
import type { CryptoKey, JwtKeys } from './jwt.js';
import type { AuthContext } from './context.js';

/** Where a verified JWT's key came from, to re-check on every use. */
export type KeyRef =
  | { kind: 'hs'; tokenId: string; secretHash: string }
  | { kind: 'kid'; tenant: string; kid: string }
  /** A workspace token issued by SSO token exchange (src/auth/sso/workspace-token.ts). */
  | { kind: 'sso'; tenant: string; kid: string };

export interface CachedJwt {
  ctx: AuthContext;
  expMs: number;
  keyRef: KeyRef;
}

interface HsKey {
  tokenId: string;
  secretHash: string;
  key: CryptoKey;
}

export interface AuthSettings {
  dataDir: string;
  auth: AuthConfig;
}

const MAINTAIN_EVERY_MS = 1000;

export class AuthRuntime {
  readonly store: StateStore;
  readonly settings: AuthSettings;
  readonly masterKey: Buffer;
  readonly jwtCache: LruCache<string, CachedJwt>;
  readonly limiter: RateLimiter;
  readonly ready: Promise<void>;
  readonly #hsKeys = new Map<string, HsKey>();
  readonly #publicKeys = new Map<string, CryptoKey>();
  readonly #privateKeys = new Map<string, CryptoKey>();
  #lastMaintain = 0;
  #maintaining: Promise<void> | undefined;

  constructor(store: StateStore, settings: AuthSettings, limiter: RateLimiter = new MemoryRateLimiter()) {
    this.store = store;
    this.settings = settings;
    this.masterKey = loadMasterKey(settings.dataDir);
    this.jwtCache = new LruCache(settings.auth.jwtCacheEntries);
    this.limiter = limiter;
    this.ready = this.#init();
    this.ready.catch((err: unknown) => log('error', 'auth: start-up key setup failed', { error: err }));
  }

  get graceMs(): number {
    return this.settings.auth.keyGraceSeconds * 1000;
  }

  /** Seal admin tokens that have no sealed secret yet (from their token files), and create tenant keys. */
  async #init(): Promise<void> {
    for (const tenant of listTenants(this.store)) {
      for (const ws of listWorkspaces(this.store, tenant.slug)) {
        const admin = listTokens(this.store, ws.id).find((t) => t.origin === 'admin');
        if (admin === undefined || this.#unsealAdmin(admin) !== undefined) continue;
        const file = adminTokenFile(this.settings.dataDir, tenant.slug, ws.name);
        if (!existsSync(file)) continue;
        const value = readFileSync(file, 'utf8').trim();
        if (!matchesRecord(admin, value)) continue;
        await this.store.commit([{ op: 'put', collection: 'tokens', id: admin.id, value: this.sealAdmin(admin, value) }]);
      }
    }
    await this.maintain(Date.now(), true);
  }

  /** The admin token record with `token` sealed into it. */
  sealAdmin(record: TokenRecord, token: string): TokenRecord {
    return { ...record, sealedSecret: seal(this.masterKey, token, adminSealContext(record)) };
  }

  #unsealAdmin(record: TokenRecord): string | undefined {
    if (record.sealedSecret === undefined) return undefined;
    try {
      const token = unseal(this.masterKey, record.sealedSecret, adminSealContext(record)).toString('utf8');
      return matchesRecord(record, token) ? token : undefined;
    } catch {
      return undefined;
    }
  }

  /** The workspace's HS256 key (its admin token), imported once per secret. */
  async hsKey(workspaceId: string): Promise<{ key: CryptoKey; ref: KeyRef } | undefined> {
    await this.ready;
    const cached = this.#hsKeys.get(workspaceId);
    if (cached !== undefined && this.store.get<TokenRecord>('tokens', cached.tokenId)?.secretHash === cached.secretHash) {
      return { key: cached.key, ref: { kind: 'hs', tokenId: cached.tokenId, secretHash: cached.secretHash } };
    }
    const admin = listTokens(this.store, workspaceId).find((t) => t.origin === 'admin');
    const token = admin === undefined ? undefined : this.#unsealAdmin(admin);
    if (admin === undefined || token === undefined) return undefined;
    const key = await webcrypto.subtle.importKey('raw', Buffer.from(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    this.#hsKeys.set(workspaceId, { tokenId: admin.id, secretHash: admin.secretHash, key });
    return { key, ref: { kind: 'hs', tokenId: admin.id, secretHash: admin.secretHash } };
  }

  /** A tenant key (by kid) of the workspace's tenant, if it still verifies at `now`. */
  async tenantKey(workspaceId: string, kid: string, now: number): Promise<{ key: CryptoKey; alg: SigningAlgorithm; ref: KeyRef } | undefined> {
    const ws = getWorkspace(this.store, workspaceId);
    if (ws === undefined) return undefined;
    const rec = readKeyring(this.store, ws.tenant).find((k) => k.kid === kid);
    if (rec === undefined || !keyVerifies(rec, now, this.graceMs)) return undefined;
    let key = this.#publicKeys.get(kid);
    if (key === undefined) {
      key = (await importJWK({ ...rec.publicJwk }, rec.alg)) as CryptoKey;
      this.#publicKeys.set(kid, key);
    }
    return { key, alg: rec.alg, ref: { kind: 'kid', tenant: ws.tenant, kid } };
  }

  /** The current signing key of a tenant (private half), creating one if needed. */
  async currentSigningKey(tenant: string): Promise<{ key: CryptoKey; record: SigningKeyRecord }> {
    await this.maintain(Date.now(), true);
    const rec = currentKey(readKeyring(this.store, tenant));
    if (rec === undefined) throw new Error(`no signing key for tenant ${tenant}`);
    let key = this.#privateKeys.get(rec.kid);
    if (key === undefined) {
      const pem = unseal(this.masterKey, rec.sealedPrivateKey, signingKeyContext(tenant, rec.kid)).toString('utf8');
      key = (await importPKCS8(pem, rec.alg)) as CryptoKey;
      this.#privateKeys.set(rec.kid, key);
    }
    return { key, record: rec };
  }

  /** True while the key a cached JWT was verified with is still the valid one. */
  keyStillValid(ref: KeyRef, now: number): boolean {
    if (ref.kind === 'hs') return this.store.get<TokenRecord>('tokens', ref.tokenId)?.secretHash === ref.secretHash;
    if (ref.kind === 'sso') return ssoKeyId(this.store, ref.tenant) === ref.kid;
    const rec = readKeyring(this.store, ref.tenant).find((k) => k.kid === ref.kid);
    return rec !== undefined && keyVerifies(rec, now, this.graceMs);
  }

  /** The key lookups for jwt.ts. */
  jwtKeys(): JwtKeys<KeyRef> {
    return { hsKey: (ws) => this.hsKey(ws), tenantKey: (ws, kid, now) => this.tenantKey(ws, kid, now) };
  }

  /**
   * Key rotation for every tenant: create the first key, rotate a key that is due, drop
   * keys past their grace period. At most once a second unless `force`.
   */
  maintain(now: number, force = false): Promise<void> {
    if (this.#maintaining !== undefined) return this.#maintaining;
    if (!force && now - this.#lastMaintain < MAINTAIN_EVERY_MS) return Promise.resolve();
    this.#lastMaintain = now;
    this.#maintaining = this.#rotateAll(now).finally(() => (this.#maintaining = undefined));
    return this.#maintaining;
  }

  /**
   * True when `maintain(now)` would start a rotation round (none running, the last one
   * at least a second ago): a timestamp check, so the gate creates no promise per request.
   */
  maintainDue(now: number): boolean {
    return this.#maintaining === undefined && now - this.#lastMaintain >= MAINTAIN_EVERY_MS;
  }

  async #rotateAll(now: number): Promise<void> {
    const policy = { algorithm: this.settings.auth.signingAlgorithm, rotationMs: this.settings.auth.keyRotationSeconds * 1000, graceMs: this.graceMs };
    for (const tenant of listTenants(this.store)) {
      const change = planKeyring(tenant.slug, readKeyring(this.store, tenant.slug), policy, this.masterKey, now);
      if (change === undefined) continue;
      await this.store.commit([keyringMutation(change)]);
      const actor = { kind: 'system' as const };
      if (change.created !== undefined) {
        recordAudit({ kind: change.retired === undefined ? 'signing_key.created' : 'signing_key.rotated', tenant: tenant.slug, actor, target: { id: change.created.kid }, details: { alg: change.created.alg, ...(change.retired === undefined ? {} : { previous: change.retired.kid }) } });
      }
      for (const k of change.removed) {
        this.#publicKeys.delete(k.kid);
        this.#privateKeys.delete(k.kid);
        recordAudit({ kind: 'signing_key.removed', tenant: tenant.slug, actor, target: { id: k.kid } });
      }
      log('info', 'auth: tenant signing keys updated', { tenant: tenant.slug, created: change.created?.kid, retired: change.retired?.kid, removed: change.removed.map((k) => k.kid) });
    }
  }

  /** Drop cached keys of a workspace (after its admin token changed). */
  forgetWorkspace(workspaceId: string): void {
    this.#hsKeys.delete(workspaceId);
  }
}

/** The token file bootstrap writes for a workspace admin token. */
export function adminTokenFile(dataDir: string, tenant: string, workspace: string): string {
  return path.join(dataDir, 'tokens', `${tenant}.${workspace}.token`);
}

const runtimes = new WeakMap<StateStore, AuthRuntime>();

/** The runtime of a store, created on first call (idempotent). */
export function configureAuth(store: StateStore, settings: AuthSettings, limiter?: RateLimiter): AuthRuntime {
  let rt = runtimes.get(store);
  if (rt === undefined) {
    rt = new AuthRuntime(store, settings, limiter);
    runtimes.set(store, rt);
  }
  return rt;
}

export function authRuntime(store: StateStore): AuthRuntime | undefined {
  return runtimes.get(store);
}

