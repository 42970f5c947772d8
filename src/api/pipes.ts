/**
 * Pipes API (Tinybird v0) and published endpoints:
 *   GET|POST /v0/pipes, GET|DELETE /v0/pipes/<pipe>,
 *   POST /v0/pipes/<pipe>/nodes, PUT|DELETE /v0/pipes/<pipe>/nodes/<node>,
 *   POST|DELETE /v0/pipes/<pipe>/nodes/<node>/endpoint,
 *   GET|POST /v0/pipes/<pipe>.json|.csv|.csvwithnames|.ndjson, GET /v0/pipes/openapi.json
 */
import { Router, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Services } from '../server/services.js';
import { authenticate, fixedParamsFor, hasGlobal, hasResource, requireAny, type AuthContext } from '../auth/context.js';
import { badRequest, conflict, HttpError, notFound } from '../server/errors.js';
import { readBody } from '../server/body.js';
import { HostQueryError, type Host } from '../clickhouse/host.js';
import {
  compileEndpoint,
  compilePipe,
  dependents,
  endpointNode,
  findNode,
  findPipe,
  listPipes,
  MAX_NODES,
  newId,
  nodeDependencies,
  pipeParams,
  requireNode,
  requirePipe,
  sampleValues,
  validateName,
  validateNodeSql,
  type CompileContext,
  type PipeNode,
  type PipeRecord,
} from '../catalog/pipes.js';
import { findDataSource } from '../catalog/datasources.js';
import { compileSqlQuery, rowFilters, type OutputFormat } from '../catalog/sql-query.js';
import type { ParamValues, TemplateParam } from '../template/index.js';
import { readSettings, streamQuery, tenantError } from './respond.js';
import { Params, isForm } from './params.js';
import { openApiDocument } from './openapi.js';

const ENDPOINT_FORMATS: Readonly<Record<string, OutputFormat>> = {
  json: 'JSON',
  csv: 'CSV',
  csvwithnames: 'CSVWithNames',
  ndjson: 'JSONEachRow',
};
/** Query-string names that are never template parameters. */
const RESERVED_PARAMS = new Set(['token', 'q']);
const MAX_PARAMS_BODY = 1024 * 1024;

export function pipesRouter(services: Services): Router {
  const router = Router();
  const { store, config } = services;

  router.get('/', (req, res) => {
    const ctx = authenticate(store, req);
    const pipes = listPipes(store, ctx.workspace.id).filter((p) => canSee(ctx, p.name));
    res.json({ pipes: pipes.map((p) => describePipe(p)) });
  });

  router.get('/openapi.json', (req, res) => {
    const ctx = authenticate(store, req);
    const pipes = listPipes(store, ctx.workspace.id).filter((p) => endpointNode(p) !== undefined && hasResource(ctx, 'PIPES:READ', p.name));
    res.json(openApiDocument(publicUrl(req), pipes.map((p) => ({ name: p.name, description: p.description, params: pipeParams(p) }))));
  });

  router.post('/', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const input = await pipeInput(req, config.maxFormBytes);
    validateName('Pipe', input.name);
    if (findPipe(store, ctx.workspace.id, input.name) !== undefined) throw conflict(`Pipe '${input.name}' already exists`);
    if (findDataSource(store, ctx.workspace.id, input.name) !== undefined) throw conflict(`A Data Source named '${input.name}' already exists`);
    if (input.nodes.length === 0) throw badRequest('A pipe needs at least one node: pass `sql`, or `nodes` in a JSON body');
    if (input.nodes.length > MAX_NODES) throw badRequest(`Too many nodes (max ${MAX_NODES})`);
    const now = new Date().toISOString();
    const nodes: PipeNode[] = [];
    for (const n of input.nodes) {
      validateName('Node', n.name);
      validateNodeSql(n.sql);
      if (nodes.some((x) => x.name === n.name)) throw badRequest(`Duplicate node name '${n.name}'`);
      nodes.push({ id: newId(), name: n.name, sql: n.sql, description: n.description, createdAt: now, updatedAt: now });
    }
    const pipe: PipeRecord = { id: newId(), workspaceId: ctx.workspace.id, name: input.name, description: input.description, nodes, endpoint: null, createdAt: now, updatedAt: now, version: 0 };
    await validateAndCommit(services, ctx, pipe, nodes.map((n) => n.name));
    res.status(200).json(describePipe(pipe));
  });

  router.get('/:name', async (req, res) => {
    const name = req.params.name!;
    const ext = endpointExtension(name);
    if (ext !== undefined) {
      await serveEndpoint(services, req, res, name.slice(0, name.length - ext.length - 1), ext, false);
      return;
    }
    const ctx = authenticate(store, req);
    requireAny(ctx, [[canSee(ctx, name), `PIPES:READ:${name}`]]);
    res.json(describePipe(requirePipe(store, ctx.workspace.id, name)));
  });

  router.post('/:name', async (req, res) => {
    const name = req.params.name!;
    const ext = endpointExtension(name);
    if (ext === undefined) throw new HttpError(405, `Use GET /v0/pipes/${name.slice(0, 128)} to read a pipe, or POST /v0/pipes/${name.slice(0, 128)}.json to query its endpoint`);
    await serveEndpoint(services, req, res, name.slice(0, name.length - ext.length - 1), ext, true);
  });

  router.delete('/:name', async (req, res) => {
    const ctx = authenticate(store, req);
    const name = req.params.name!;
    requireAny(ctx, [[hasResource(ctx, 'PIPES:DROP', name), `PIPES:DROP:${name}`]]);
    const pipe = requirePipe(store, ctx.workspace.id, name);
    const users = dependents(store, ctx.workspace.id, pipe.name);
    if (users.length > 0) throw conflict(`Pipe '${pipe.name}' is used by ${users.map((u) => `'${u.name}'`).join(', ')}: change or delete those first`);
    await store.commit([{ op: 'delete', collection: 'pipes', id: pipe.id }]);
    res.status(204).end();
  });

  router.post('/:name/nodes', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const pipe = requirePipe(store, ctx.workspace.id, req.params.name!);
    const { params, body } = await nodeInput(req, config.maxFormBytes);
    const sql = params.get('sql') ?? body;
    const nodeName = params.get('name') ?? `${pipe.name}_${pipe.nodes.length}`;
    validateName('Node', nodeName);
    validateNodeSql(sql ?? '');
    if (findNode(pipe, nodeName) !== undefined) throw conflict(`Node '${nodeName}' already exists in pipe '${pipe.name}'`);
    if (pipe.nodes.length >= MAX_NODES) throw badRequest(`Too many nodes (max ${MAX_NODES})`);
    const now = new Date().toISOString();
    const node: PipeNode = { id: newId(), name: nodeName, sql: sql!, description: params.get('description') ?? '', createdAt: now, updatedAt: now };
    const next: PipeRecord = { ...pipe, nodes: [...pipe.nodes, node], updatedAt: now, version: pipe.version + 1 };
    await validateAndCommit(services, ctx, next, [node.name]);
    res.status(200).json(describeNode(next, node));
  });

  router.put('/:name/nodes/:node', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const pipe = requirePipe(store, ctx.workspace.id, req.params.name!);
    const node = requireNode(pipe, req.params.node!);
    const { params, body } = await nodeInput(req, config.maxFormBytes);
    const sql = params.get('sql') ?? body ?? node.sql;
    validateNodeSql(sql);
    const newName = params.get('name') ?? node.name;
    validateName('Node', newName);
    if (newName !== node.name && findNode(pipe, newName) !== undefined) throw conflict(`Node '${newName}' already exists in pipe '${pipe.name}'`);
    const now = new Date().toISOString();
    const updated: PipeNode = { ...node, name: newName, sql, description: params.get('description') ?? node.description, updatedAt: now };
    const next: PipeRecord = { ...pipe, nodes: pipe.nodes.map((n) => (n.id === node.id ? updated : n)), updatedAt: now, version: pipe.version + 1 };
    await validateAndCommit(services, ctx, next, [updated.name]);
    res.status(200).json(describeNode(next, updated));
  });

  router.delete('/:name/nodes/:node', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const pipe = requirePipe(store, ctx.workspace.id, req.params.name!);
    const node = requireNode(pipe, req.params.node!);
    if (pipe.nodes.length === 1) throw badRequest(`Node '${node.name}' is the only node of pipe '${pipe.name}': delete the pipe instead`);
    const now = new Date().toISOString();
    const next: PipeRecord = {
      ...pipe,
      nodes: pipe.nodes.filter((n) => n.id !== node.id),
      endpoint: pipe.endpoint === node.id ? null : pipe.endpoint,
      updatedAt: now,
      version: pipe.version + 1,
    };
    if (pipe.endpoint === node.id) {
      const users = dependents(store, ctx.workspace.id, pipe.name);
      if (users.length > 0) throw conflict(`Node '${node.name}' is the endpoint of '${pipe.name}', used by ${users.map((u) => `'${u.name}'`).join(', ')}`);
    }
    await validateAndCommit(services, ctx, next, []);
    res.status(204).end();
  });

  router.post('/:name/nodes/:node/endpoint', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const pipe = requirePipe(store, ctx.workspace.id, req.params.name!);
    const node = requireNode(pipe, req.params.node!);
    const now = new Date().toISOString();
    const next: PipeRecord = { ...pipe, endpoint: node.id, updatedAt: now, version: pipe.version + 1 };
    await validateAndCommit(services, ctx, next, [node.name]);
    res.status(200).json(describePipe(next));
  });

  router.delete('/:name/nodes/:node/endpoint', async (req, res) => {
    const ctx = authenticate(store, req);
    requireAny(ctx, [[hasGlobal(ctx, 'PIPES:CREATE'), 'PIPES:CREATE']]);
    const pipe = requirePipe(store, ctx.workspace.id, req.params.name!);
    const node = requireNode(pipe, req.params.node!);
    if (pipe.endpoint !== node.id) throw badRequest(`Node '${node.name}' is not the endpoint of pipe '${pipe.name}'`);
    const users = dependents(store, ctx.workspace.id, pipe.name);
    if (users.length > 0) throw conflict(`Unpublishing '${pipe.name}' would break ${users.map((u) => `'${u.name}'`).join(', ')}`);
    const now = new Date().toISOString();
    const next: PipeRecord = { ...pipe, endpoint: null, updatedAt: now, version: pipe.version + 1 };
    await store.commit([{ op: 'put', collection: 'pipes', id: next.id, value: next }]);
    res.status(200).json(describePipe(next));
  });

  return router;
}

/** A token sees a pipe it can read or drop (all, with PIPES:CREATE or ADMIN). */
function canSee(ctx: AuthContext, name: string): boolean {
  return hasGlobal(ctx, 'PIPES:CREATE') || hasResource(ctx, 'PIPES:READ', name) || hasResource(ctx, 'PIPES:DROP', name);
}

function endpointExtension(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const ext = name.slice(dot + 1).toLowerCase();
  if (ENDPOINT_FORMATS[ext] === undefined) throw notFound(`Unknown endpoint format '.${ext.slice(0, 20)}': use .json, .csv, .csvwithnames or .ndjson`);
  return ext;
}

interface NodeInputSpec {
  name: string;
  sql: string;
  description: string;
}

/** `name` + `sql` (query string or form), or a JSON body `{name, description, nodes: [...]}`. */
async function pipeInput(req: Request, maxBytes: number): Promise<{ name: string; description: string; nodes: NodeInputSpec[] }> {
  const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('application/json')) {
    const body = parseJson((await readBody(req, maxBytes)).toString('utf8'));
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('Invalid JSON body: expected an object {name, description, nodes}');
    const b = body as Record<string, unknown>;
    const name = typeof b.name === 'string' ? b.name : (typeof req.query.name === 'string' ? req.query.name : '');
    if (name === '') throw badRequest("Missing required parameter 'name'");
    if (b.nodes !== undefined && !Array.isArray(b.nodes)) throw badRequest("Invalid JSON body: 'nodes' must be an array");
    const nodes = ((b.nodes as unknown[] | undefined) ?? []).map((n, i) => {
      if (typeof n !== 'object' || n === null) throw badRequest(`Invalid JSON body: nodes[${i}] must be an object`);
      const o = n as Record<string, unknown>;
      if (typeof o.sql !== 'string') throw badRequest(`Invalid JSON body: nodes[${i}].sql must be a string`);
      return { name: typeof o.name === 'string' ? o.name : `${name}_${i}`, sql: o.sql, description: typeof o.description === 'string' ? o.description : '' };
    });
    return { name, description: typeof b.description === 'string' ? b.description : '', nodes };
  }
  const form = isForm(req) ? new URLSearchParams((await readBody(req, maxBytes)).toString('utf8')) : undefined;
  const params = new Params(req, form);
  const name = params.require('name');
  const sql = params.get('sql');
  return { name, description: params.get('description') ?? '', nodes: sql === undefined ? [] : [{ name: `${name}_0`, sql, description: '' }] };
}

/** Node parameters from the query string or a form; otherwise the body is the SQL itself (as in Tinybird). */
async function nodeInput(req: Request, maxBytes: number): Promise<{ params: Params; body: string | undefined }> {
  const raw = (await readBody(req, maxBytes)).toString('utf8');
  if (isForm(req)) {
    const form = new URLSearchParams(raw);
    if (form.has('sql') || form.has('name') || form.has('description')) return { params: new Params(req, form), body: undefined };
  }
  return { params: new Params(req), body: raw.trim() === '' ? undefined : raw };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`Invalid JSON body: ${(err as Error).message}`);
  }
}

/**
 * Validate a changed pipe and store it: every node compiles (templates rendered with
 * defaults or samples), the data sources it reads are readable by the caller, the
 * host accepts the changed nodes and the endpoint, and no published endpoint that
 * depends on this pipe breaks. Nothing is stored when any check fails.
 */
async function validateAndCommit(services: Services, ctx: AuthContext, pipe: PipeRecord, changed: readonly string[]): Promise<void> {
  const { store, hosts, config } = services;
  const host = hosts.hostFor(ctx.tenant);
  const overrides = new Map([[pipe.name, pipe]]);
  const cctx: CompileContext = { store, workspace: ctx.workspace, filters: {}, overrides };
  const samples = sampleValues(pipeParams(pipe));
  const toCheck = new Set(changed);
  const endpoint = endpointNode(pipe);
  if (endpoint !== undefined) toCheck.add(endpoint.name);
  for (const node of pipe.nodes) {
    const compiled = compilePipe(cctx, pipe, node.name, samples);
    if (!ctx.isAdmin) {
      for (const ds of compiled.datasources) {
        const base = ds.endsWith('_quarantine') ? ds.slice(0, -'_quarantine'.length) : ds;
        if (!hasResource(ctx, 'DATASOURCES:READ', base) && !hasGlobal(ctx, 'DATASOURCES:CREATE')) {
          throw new HttpError(403, `Forbidden: node '${node.name}' reads '${ds}', which token '${ctx.token.name}' may not read`);
        }
      }
    }
    if (toCheck.has(node.name)) await checkOnHost(host, compiled.sql, config, ctx.workspace.database, `node '${node.name}'`);
  }
  // Published endpoints that read this pipe, directly or through others.
  const seen = new Set<string>([pipe.name]);
  const queue = [pipe.name];
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const user of dependents(store, ctx.workspace.id, name)) {
      if (seen.has(user.name)) continue;
      seen.add(user.name);
      queue.push(user.name);
      const ep = endpointNode(user);
      if (ep === undefined) continue;
      try {
        const compiled = compilePipe(cctx, user, ep.name, sampleValues(pipeParams(user)));
        await checkOnHost(host, compiled.sql, config, ctx.workspace.database, `endpoint '${user.name}'`);
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) throw badRequest(`This change would break the published endpoint '${user.name}': ${err.message}`);
        throw err;
      }
    }
  }
  await store.commit([{ op: 'put', collection: 'pipes', id: pipe.id, value: pipe }]);
}

/** Ask the host to plan the query without returning rows (catches unknown columns, type errors). */
async function checkOnHost(host: Host, sql: string, config: Services['config'], database: string, what: string): Promise<void> {
  try {
    const result = await host.read(`SELECT * FROM (${sql}\n) LIMIT 0`, 'JSON', { settings: readSettings(config.limits, {}), queryId: randomUUID() });
    for await (const _chunk of result.stream) {
      // drain
    }
  } catch (err) {
    if (err instanceof HostQueryError) throw badRequest(`Invalid ${what}: ${tenantError(err, database).message}`);
    throw err;
  }
}

async function serveEndpoint(services: Services, req: Request, res: Response, name: string, ext: string, post: boolean): Promise<void> {
  const { store, hosts, config } = services;
  const ctx = authenticate(store, req);
  requireAny(ctx, [[hasResource(ctx, 'PIPES:READ', name), `PIPES:READ:${name}`]]);
  const pipe = requirePipe(store, ctx.workspace.id, name);
  const node = endpointNode(pipe);
  if (node === undefined) throw notFound(`The pipe '${pipe.name}' does not have an endpoint yet`);
  const values = await requestValues(req, post, config.maxFormBytes);
  const q = typeof values.q === 'string' ? values.q : undefined;
  delete values.q;
  // Parameters fixed by the token (JWT `fixed_params`) win over the caller's.
  for (const [k, v] of Object.entries(fixedParamsFor(ctx, pipe.name))) values[k] = v;
  const cctx: CompileContext = { store, workspace: ctx.workspace, filters: rowFilters(store, ctx) };
  const compiled = compileEndpoint(cctx, pipe, node.name, values);
  let sql = compiled.sql;
  let format = ENDPOINT_FORMATS[ext]!;
  let settings: Record<string, string> = {};
  if (q !== undefined) {
    const query = compileSqlQuery(store, ctx, q, config.limits.maxExecutionTime, { _: compiled.sql });
    sql = query.sql;
    settings = query.settings;
    if (/\bFORMAT\b/i.test(q)) format = query.format;
  }
  await streamQuery(res, hosts.hostFor(ctx.tenant), sql, format, readSettings(config.limits, settings), randomUUID(), ctx.workspace.database);
}

/** Template parameters from the query string (GET) or a JSON body (POST; query string values too). */
async function requestValues(req: Request, post: boolean, maxBytes: number): Promise<Record<string, ParamValues[string]>> {
  const values: Record<string, ParamValues[string]> = Object.create(null) as Record<string, ParamValues[string]>;
  for (const [k, v] of Object.entries(req.query)) {
    if (RESERVED_PARAMS.has(k) && k !== 'q') continue;
    if (typeof v === 'string') values[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) values[k] = v as string[];
  }
  if (post) {
    const text = (await readBody(req, Math.min(maxBytes, MAX_PARAMS_BODY))).toString('utf8');
    if (text.trim() !== '') {
      let body: unknown;
      if (isForm(req)) body = Object.fromEntries(new URLSearchParams(text));
      else body = parseJson(text);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('Invalid JSON body: expected an object of parameters');
      for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
        if (k === 'token') continue;
        values[k] = v as ParamValues[string];
      }
    }
  }
  return values;
}

function publicUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

function describeNode(pipe: PipeRecord, node: PipeNode): Record<string, unknown> {
  const isEndpoint = pipe.endpoint === node.id;
  return {
    id: node.id,
    name: node.name,
    sql: node.sql,
    description: node.description,
    materialized: null,
    cluster: null,
    tags: {},
    created_at: node.createdAt,
    updated_at: node.updatedAt,
    version: pipe.version,
    project: null,
    result: null,
    ignore_sql_errors: false,
    node_type: isEndpoint ? 'endpoint' : 'standard',
    dependencies: nodeDependencies(pipe, node),
    params: describeParams(pipeParams({ ...pipe, nodes: [node] })),
  };
}

function describeParams(params: readonly TemplateParam[]): Record<string, unknown>[] {
  return params.map((p) => ({
    name: p.name,
    type: p.type,
    default: p.default ?? null,
    required: p.required,
    description: p.description ?? null,
    ...(p.example === undefined ? {} : { example: p.example }),
    ...(p.enum === undefined ? {} : { enum: p.enum }),
    ...(p.format === undefined ? {} : { format: p.format }),
  }));
}

function describePipe(pipe: PipeRecord): Record<string, unknown> {
  const ep = endpointNode(pipe);
  return {
    id: pipe.id,
    name: pipe.name,
    description: pipe.description,
    type: ep === undefined ? 'default' : 'endpoint',
    endpoint: ep?.id ?? null,
    parent: null,
    created_at: pipe.createdAt,
    updated_at: pipe.updatedAt,
    version: pipe.version,
    nodes: pipe.nodes.map((n) => describeNode(pipe, n)),
    params: ep === undefined ? [] : describeParams(pipeParams(pipe)),
  };
}
