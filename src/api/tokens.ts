/**
 * Tokens API (Tinybird v0), the static part: list, create, show, delete.
 * Secrets are shown once, when a token is created; only their hashes are kept.
 */
import { Router } from 'express';
import type { Services } from '../server/services.js';
import { authenticate, hasGlobal, requireAny, type AuthContext } from '../auth/context.js';
import { badRequest, conflict, forbidden, notFound } from '../server/errors.js';
import { readBody } from '../server/body.js';
import { formatScope, parseScope, ScopeError, type Scope } from '../auth/scopes.js';
import { findToken, issueToken, listTokens, type TokenRecord } from '../auth/tokens.js';
import { Params, isForm } from './params.js';
import { checkCondition } from '../catalog/conditions.js';

const TOKEN_NAME = /^[A-Za-z0-9_.\-: ]{1,128}$/;
const MAX_SCOPES = 256;
const MAX_TOKENS_PER_WORKSPACE = 10_000;

export function tokensRouter(services: Services): Router {
  const router = Router();
  const { store, config } = services;

  router.get('/', (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const tokens = listTokens(store, ctx.workspace.id).filter((t) => ctx.isAdmin || t.origin !== 'admin');
    res.json({ tokens: tokens.map(describeToken) });
  });

  router.get('/:token', (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const token = findToken(store, ctx.workspace.id, req.params.token!);
    if (token === undefined || (!ctx.isAdmin && token.origin === 'admin')) throw notFound(`Token '${req.params.token!.slice(0, 128)}' not found`);
    res.json(describeToken(token));
  });

  router.post('/', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const form = isForm(req) ? new URLSearchParams((await readBody(req, config.maxFormBytes)).toString('utf8')) : undefined;
    const params = new Params(req, form);
    const name = params.require('name');
    if (!TOKEN_NAME.test(name)) throw badRequest(`Invalid token name: use 1-128 letters, digits, spaces and _ . - :`);
    const texts = params.all('scope');
    if (texts.length === 0) throw badRequest("Missing required parameter 'scope': give at least one, e.g. scope=DATASOURCES:READ:events");
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
    const existing = listTokens(store, ctx.workspace.id);
    if (existing.some((t) => t.name === name)) throw conflict(`Token '${name}' already exists`);
    if (existing.length >= MAX_TOKENS_PER_WORKSPACE) throw badRequest(`Too many tokens in this workspace (max ${MAX_TOKENS_PER_WORKSPACE})`);
    const issued = issueToken(ctx.workspace.id, name, params.get('description') ?? '', dedupe(scopes), 'user');
    await store.commit([{ op: 'put', collection: 'tokens', id: issued.record.id, value: issued.record }]);
    res.status(200).json({ ...describeToken(issued.record), token: issued.token });
  });

  router.delete('/:token', async (req, res) => {
    const ctx = authenticate(store, req);
    requireTokensScope(ctx);
    const token = findToken(store, ctx.workspace.id, req.params.token!);
    if (token === undefined || (!ctx.isAdmin && token.origin === 'admin')) throw notFound(`Token '${req.params.token!.slice(0, 128)}' not found`);
    if (token.origin === 'admin') throw badRequest("The workspace admin token can't be deleted");
    await store.commit([{ op: 'delete', collection: 'tokens', id: token.id }]);
    res.status(204).end();
  });

  return router;
}

function requireTokensScope(ctx: AuthContext): void {
  requireAny(ctx, [[hasGlobal(ctx, 'TOKENS'), 'TOKENS']]);
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
