/**
 * Tokens API (Tinybird v0): list, create (static or JWT), show, update, delete and
 * refresh. Static secrets are shown once, when a token is created or refreshed; only
 * their hashes are kept. JWTs are not stored (as in Tinybird): they are signed and
 * returned, and every issue is audited.
 */
import { Router, type Request } from 'express';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Services } from '../server/services.js';
import { authenticate, hasGlobal, requireAny, type AuthContext } from '../auth/context.js';
import { badRequest, conflict, forbidden, notFound, type HttpError } from '../server/errors.js';
import { readBody } from '../server/body.js';
import { formatScope, parseScope, ScopeError, type Scope } from '../auth/scopes.js';
import { findToken, issueToken, listTokens, matchesRecord, rotateSecret, type TokenRecord } from '../auth/tokens.js';
import { readJwtScopes, signJwt, type JwtAlgorithm, type JwtScope } from '../auth/jwt.js';
import { adminTokenFile, configureAuth, type AuthRuntime } from '../auth/runtime.js';
import { writeFileDurable } from '../state/files.js';
import { recordAudit, type AuditActor, type AuditKind } from '../ops/audit.js';
import { Params, isForm } from './params.js';
import { checkCondition } from '../catalog/conditions.js';

const TOKEN_NAME = /^[A-Za-z0-9_.\-: ]{1,128}$/;
const MAX_SCOPES = 256;
const MAX_TOKENS_PER_WORKSPACE = 10_000;
/** Longest JWT lifetime Colibri signs (10 years). */
const MAX_JWT_SECONDS = 10 * 365 * 24 * 3600;

export function tokensRouter(services: Services): Router {
  const router = Router();
  const { store, config } = services;
  const rt = configureAuth(store, { dataDir: config.dataDir, auth: config.auth });

  router.get('/', (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const tokens = listTokens(store, ctx.workspace.id).filter((t) => manageable(ctx, t));
    res.json({ tokens: tokens.map(describeToken) });
  });

  router.get('/:token', (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    res.json(describeToken(requireToken(ctx, req.params.token!)));
  });

  router.post('/', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const input = await readInput(req, config.maxFormBytes);
    if (input.params.get('expiration_time') !== undefined || input.json?.expiration_time !== undefined) {
      res.status(200).json(await createJwt(rt, ctx, input, res.locals.requestId as string));
      return;
    }
    const name = input.params.require('name');
    if (!TOKEN_NAME.test(name)) throw badRequest(`Invalid token name: use 1-128 letters, digits, spaces and _ . - :`);
    const scopes = parseScopes(ctx, input.params.all('scope'), true);
    const existing = listTokens(store, ctx.workspace.id);
    if (existing.some((t) => t.name === name)) throw conflict(`Token '${name}' already exists`);
    if (existing.length >= MAX_TOKENS_PER_WORKSPACE) throw badRequest(`Too many tokens in this workspace (max ${MAX_TOKENS_PER_WORKSPACE})`);
    const issued = issueToken(ctx.workspace.id, name, input.params.get('description') ?? '', scopes, 'user');
    await store.commit([{ op: 'put', collection: 'tokens', id: issued.record.id, value: issued.record }]);
    audit('token.created', ctx, issued.record, res.locals.requestId as string, { scopes: scopes.map(formatScope) });
    res.status(200).json({ ...describeToken(issued.record), token: issued.token });
  });

  router.put('/:token', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const token = requireToken(ctx, req.params.token!);
    if (token.origin === 'admin') throw badRequest("The workspace admin token can't be modified (it can be refreshed)");
    const { params } = await readInput(req, config.maxFormBytes);
    const texts = params.all('scope');
    const name = params.get('name');
    const description = params.get('description');
    const updated: TokenRecord = { ...token, updatedAt: new Date().toISOString() };
    if (name !== undefined && name !== token.name) {
      if (!TOKEN_NAME.test(name)) throw badRequest(`Invalid token name: use 1-128 letters, digits, spaces and _ . - :`);
      if (listTokens(store, ctx.workspace.id).some((t) => t.name === name)) throw conflict(`Token '${name}' already exists`);
      updated.name = name;
    }
    if (description !== undefined) updated.description = description;
    if (texts.length > 0) updated.scopes = parseScopes(ctx, texts, false);
    await store.commit([{ op: 'put', collection: 'tokens', id: token.id, value: updated }]);
    audit('token.updated', ctx, updated, res.locals.requestId as string, {
      ...(updated.name !== token.name ? { previous_name: token.name } : {}),
      scopes: updated.scopes.map(formatScope),
      previous_scopes: token.scopes.map(formatScope),
    });
    res.json(describeToken(updated));
  });

  router.delete('/:token', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const token = requireToken(ctx, req.params.token!);
    if (token.origin === 'admin') throw badRequest("The workspace admin token can't be deleted");
    await store.commit([{ op: 'delete', collection: 'tokens', id: token.id }]);
    audit('token.deleted', ctx, token, res.locals.requestId as string, { scopes: token.scopes.map(formatScope) });
    res.status(204).end();
  });

  router.post('/:token/refresh', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const token = requireToken(ctx, req.params.token!);
    const issued = rotateSecret(token);
    const record = token.origin === 'admin' ? rt.sealAdmin(issued.record, issued.token) : issued.record;
    await store.commit([{ op: 'put', collection: 'tokens', id: token.id, value: record }]);
    if (token.origin === 'admin') {
      rt.forgetWorkspace(ctx.workspace.id);
      rewriteAdminTokenFiles(config.dataDir, ctx, token, issued.token);
    }
    audit('token.refreshed', ctx, record, res.locals.requestId as string);
    res.json({ ...describeToken(record), token: issued.token });
  });

  return router;

  function requireToken(ctx: AuthContext, nameOrId: string): TokenRecord {
    const token = findToken(store, ctx.workspace.id, nameOrId);
    if (token === undefined || !manageable(ctx, token)) throw notFound(`Token '${nameOrId.slice(0, 128)}' not found`);
    return token;
  }
}

interface Input {
  params: Params;
  /** The JSON body, when the request sent one (JWT creation). */
  json: Record<string, unknown> | undefined;
}

async function readInput(req: Request, maxBytes: number): Promise<Input> {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (isForm(req)) return { params: new Params(req, new URLSearchParams((await readBody(req, maxBytes)).toString('utf8'))), json: undefined };
  if (type.startsWith('application/json')) {
    const text = (await readBody(req, maxBytes)).toString('utf8');
    if (text.trim() === '') return { params: new Params(req), json: undefined };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw badRequest('Invalid JSON body');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badRequest('Invalid JSON body: expected an object');
    return { params: new Params(req), json: json as Record<string, unknown> };
  }
  return { params: new Params(req), json: undefined };
}

/** Parse and check scopes to grant: valid, filters compiled, ADMIN only from ADMIN. */
function parseScopes(ctx: AuthContext, texts: string[], required: boolean): Scope[] {
  if (texts.length === 0 && required) throw badRequest("Missing required parameter 'scope': give at least one, e.g. scope=DATASOURCES:READ:events");
  if (texts.length > MAX_SCOPES) throw badRequest(`Too many scopes (max ${MAX_SCOPES})`);
  let scopes: Scope[];
  try {
    scopes = texts.map(parseScope);
  } catch (err) {
    if (err instanceof ScopeError) throw badRequest(err.message);
    throw err;
  }
  for (const s of scopes) if (s.filter !== undefined) checkCondition(s.filter, s.resource!, `row filter of scope '${formatScope(s)}'`);
  if (scopes.some((s) => s.type === 'ADMIN') && !ctx.isAdmin) throw forbidden('Forbidden: only an ADMIN token may grant the ADMIN scope');
  return dedupe(scopes);
}

/** Sign a JWT for the caller's workspace (HS256 with the admin token, or the tenant key). */
async function createJwt(rt: AuthRuntime, ctx: AuthContext, input: Input, requestId: string): Promise<Record<string, unknown>> {
  const body = input.json ?? {};
  const name = input.params.get('name') ?? body.name;
  if (typeof name !== 'string' || name === '' || name.length > 256) throw badRequest("Missing required parameter 'name' (1-256 characters)");
  const expText = input.params.get('expiration_time') ?? body.expiration_time;
  const exp = typeof expText === 'number' ? expText : typeof expText === 'string' && /^\d{1,12}$/.test(expText) ? Number(expText) : NaN;
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isInteger(exp) || exp <= now) throw badRequest("Invalid 'expiration_time': expected a Unix timestamp (seconds) in the future");
  if (exp > now + MAX_JWT_SECONDS) throw badRequest("Invalid 'expiration_time': at most 10 years from now");
  const bad = (why: string): HttpError => badRequest(`Invalid JWT scopes: ${why}`);
  const { scopes } = readJwtScopes(body.scopes ?? [], bad);
  if (scopes.length === 0) throw badRequest("Missing 'scopes': a JWT needs at least one PIPES:READ or DATASOURCES:READ scope");
  let limits: { rps: number } | undefined;
  if (body.limits !== undefined) {
    const rps = (body.limits as { rps?: unknown } | null)?.rps;
    if (typeof rps !== 'number' || !Number.isInteger(rps) || rps <= 0 || rps > 1_000_000) throw badRequest("Invalid 'limits.rps': expected a positive integer");
    limits = { rps };
  }
  const algText = input.params.get('algorithm') ?? body.algorithm ?? 'HS256';
  const claims = { workspace_id: ctx.workspace.id, name, exp, scopes: body.scopes as JwtScope[], ...(limits === undefined ? {} : { limits }) };
  let token: string;
  let alg: JwtAlgorithm;
  let kid: string | undefined;
  if (algText === 'HS256') {
    const k = await rt.hsKey(ctx.workspace.id);
    if (k === undefined) throw badRequest('This workspace has no JWT signing key yet: restart the server once so it can seal the admin token');
    alg = 'HS256';
    token = await signJwt(claims, k.key, alg);
  } else if (algText === rt.settings.auth.signingAlgorithm) {
    const k = await rt.currentSigningKey(ctx.tenant.slug);
    alg = k.record.alg;
    kid = k.record.kid;
    token = await signJwt(claims, k.key, alg, kid);
  } else {
    throw badRequest(`Invalid 'algorithm': expected HS256 or ${rt.settings.auth.signingAlgorithm}`);
  }
  recordAudit({
    kind: 'jwt.issued',
    tenant: ctx.tenant.slug,
    workspace: ctx.workspace.id,
    actor: actorOf(ctx),
    target: { id: kid ?? 'HS256', name },
    requestId,
    details: { alg, exp, scopes: scopes.map(formatScope), ...(limits === undefined ? {} : { rps: limits.rps }) },
  });
  return { token, name, expiration_time: exp, algorithm: alg, ...(kid === undefined ? {} : { kid }) };
}

/** A refreshed admin token: its token files (written by bootstrap) follow the new secret. */
function rewriteAdminTokenFiles(dataDir: string, ctx: AuthContext, old: TokenRecord, token: string): void {
  const files = [adminTokenFile(dataDir, ctx.tenant.slug, ctx.workspace.name), path.join(dataDir, 'admin.token')];
  for (const file of files) {
    if (existsSync(file) && matchesRecord(old, readFileSync(file, 'utf8').trim())) writeFileDurable(file, token + '\n');
  }
}

function requireTokensScope(ctx: AuthContext): void {
  requireAny(ctx, [[hasGlobal(ctx, 'TOKENS'), 'TOKENS']]);
}

/** TOKENS manages non-admin tokens; tokens holding ADMIN are for ADMIN callers only. */
function manageable(ctx: AuthContext, t: TokenRecord): boolean {
  return ctx.isAdmin || (t.origin !== 'admin' && !t.scopes.some((s) => s.type === 'ADMIN'));
}

function actorOf(ctx: AuthContext): AuditActor {
  return { kind: ctx.token.kind === 'jwt' ? 'jwt' : 'token', id: ctx.token.id, name: ctx.token.name };
}

function audit(kind: AuditKind, ctx: AuthContext, t: TokenRecord, requestId: string, details?: Record<string, unknown>): void {
  recordAudit({ kind, tenant: ctx.tenant.slug, workspace: ctx.workspace.id, actor: actorOf(ctx), target: { id: t.id, name: t.name }, requestId, ...(details === undefined ? {} : { details }) });
}

function dedupe(scopes: Scope[]): Scope[] {
  const seen = new Set<string>();
  return scopes.filter((s) => {
    const key = formatScope(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A token in Tinybird's shape, without its secret. */
export function describeToken(t: TokenRecord): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    scopes: t.scopes.map((s) => ({ type: s.type, ...(s.resource === undefined ? {} : { resource: s.resource }), ...(s.filter === undefined ? {} : { filter: s.filter }) })),
    origin: { type: t.origin === 'admin' ? 'W' : 'U' },
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}
