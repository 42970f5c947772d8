/**
 * Pipes: ordered SQL nodes, optionally one of them published as an HTTP endpoint.
 * A node may read earlier nodes of the same pipe, data sources, and the published
 * endpoints of other pipes. Node SQL may be a template (see src/template/).
 *
 * Compiling a pipe for a request: render every node's template with the request's
 * parameters, resolve names (nodes, data sources, other pipes' endpoints, compiled
 * recursively with the same parameters), then let the native compiler inline
 * everything into one query qualified to the workspace database, with the token's
 * row filters applied to every data source read.
 */
import { randomBytes } from 'node:crypto';
import { analyze, checkSandbox, compile, SqlPolicyError, SqlSyntaxError, type CompileResources, type PipeNodeInput } from '../compiler/index.js';
import { renderTemplate, templateParams, TemplateError, type ParamValues, type TemplateParam } from '../template/index.js';
import type { StateStore } from '../state/store.js';
import { workspaceRecords } from './workspace-index.js';
import type { WorkspaceRecord } from '../tenancy/model.js';
import { badRequest, HttpError, notFound } from '../server/errors.js';
import { RESOURCE_NAME } from '../auth/scopes.js';
import { listDataSources, QUARANTINE_SUFFIX } from './datasources.js';

export interface PipeNode {
  readonly [key: string]: unknown;
  id: string;
  name: string;
  sql: string;
  description: string;
  createdAt: string;
  updatedAt: string;
}

export interface PipeRecord {
  readonly [key: string]: unknown;
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  nodes: PipeNode[];
  /** id of the published node, or null. */
  endpoint: string | null;
  createdAt: string;
  updatedAt: string;
  /** Incremented on every change. */
  version: number;
}

export const MAX_NODES = 100;
export const MAX_NODE_SQL = 256 * 1024;
const MAX_PIPE_DEPTH = 16;

export function newId(): string {
  return `t_${randomBytes(16).toString('hex')}`;
}

/** The workspace's pipes, in creation order (a new array). */
export function listPipes(store: StateStore, workspaceId: string): PipeRecord[] {
  return [...workspaceRecords<PipeRecord>(store, 'pipes', workspaceId).list];
}

export function findPipe(store: StateStore, workspaceId: string, nameOrId: string): PipeRecord | undefined {
  return workspaceRecords<PipeRecord>(store, 'pipes', workspaceId).byName.get(nameOrId);
}

export function requirePipe(store: StateStore, workspaceId: string, name: string): PipeRecord {
  const pipe = findPipe(store, workspaceId, name);
  if (pipe === undefined) throw notFound(`Pipe '${name.slice(0, 128)}' not found`);
  return pipe;
}

export function findNode(pipe: PipeRecord, nameOrId: string): PipeNode | undefined {
  return pipe.nodes.find((n) => n.name === nameOrId || n.id === nameOrId);
}

export function requireNode(pipe: PipeRecord, nameOrId: string): PipeNode {
  const node = findNode(pipe, nameOrId);
  if (node === undefined) throw notFound(`Node '${nameOrId.slice(0, 128)}' not found in pipe '${pipe.name}'`);
  return node;
}

export function endpointNode(pipe: PipeRecord): PipeNode | undefined {
  return pipe.endpoint === null ? undefined : pipe.nodes.find((n) => n.id === pipe.endpoint);
}

export function validateName(kind: 'Pipe' | 'Node', name: string): void {
  if (!RESOURCE_NAME.test(name)) throw badRequest(`Invalid ${kind} name '${name.slice(0, 80)}': use letters, digits and '_', starting with a letter or '_' (max 128 characters)`);
}

export function validateNodeSql(sql: string): void {
  if (sql.trim() === '') throw badRequest('Invalid node: empty SQL');
  if (sql.length > MAX_NODE_SQL) throw badRequest(`Invalid node: SQL longer than ${MAX_NODE_SQL} characters`);
}

/** The parameters of a pipe (every node's template parameters, first definition wins). */
export function pipeParams(pipe: PipeRecord): TemplateParam[] {
  const seen = new Map<string, TemplateParam>();
  for (const node of pipe.nodes) {
    for (const p of wrapTemplate(() => templateParams(node.sql))) {
      const prev = seen.get(p.name);
      if (prev === undefined) seen.set(p.name, p);
      else if (prev.type === 'unknown' || (prev.description === undefined && p.description !== undefined)) seen.set(p.name, { ...p, ...prev, type: prev.type === 'unknown' ? p.type : prev.type, description: prev.description ?? p.description });
    }
  }
  return [...seen.values()];
}

/** Values to render templates with when validating a pipe without a request: defaults, examples, or a sample of the type. */
export function sampleValues(params: readonly TemplateParam[]): Record<string, string | string[]> {
  const values: Record<string, string | string[]> = {};
  for (const p of params) {
    if (p.default !== undefined && p.default !== null) continue;
    if (p.example !== undefined) {
      values[p.name] = p.example;
      continue;
    }
    if (p.enum !== undefined && p.enum.length > 0) {
      values[p.name] = p.enum[0]!;
      continue;
    }
    const t = p.type;
    if (/^U?Int|^Integer$|^Int$/.test(t)) values[p.name] = '1';
    else if (/^Float/.test(t)) values[p.name] = '1.5';
    else if (t === 'Boolean') values[p.name] = 'true';
    else if (t === 'DateTime64') values[p.name] = '2024-01-01 00:00:00.000';
    else if (t === 'DateTime') values[p.name] = '2024-01-01 00:00:00';
    else if (t === 'Date') values[p.name] = '2024-01-01';
    else if (/^Array/.test(t)) values[p.name] = ['1'];
    else if (t === 'JSON') values[p.name] = '{}';
    else if (t === 'String') values[p.name] = 'a';
  }
  return values;
}

/** What a compile needs to know about the workspace. */
export interface CompileContext {
  store: StateStore;
  workspace: WorkspaceRecord;
  /** Row filters per data source (from the token), applied to every read. */
  filters: Readonly<Record<string, string>>;
  /** Pipes to use instead of the stored ones (a change being validated). */
  overrides?: ReadonlyMap<string, PipeRecord>;
}

export interface CompiledPipe {
  sql: string;
  /** Data sources read, directly or through other pipes. */
  datasources: string[];
  /** Other pipes read through their endpoints. */
  pipes: string[];
}

function pipeByName(ctx: CompileContext, name: string): PipeRecord | undefined {
  return ctx.overrides?.get(name) ?? findPipe(ctx.store, ctx.workspace.id, name);
}

/**
 * One query for `target` (a node of `pipe`), with `values` as template parameters.
 * Throws 400s that name the problem (template, syntax, policy, unknown resource, cycle).
 */
export function compilePipe(ctx: CompileContext, pipe: PipeRecord, target: string, values: ParamValues, stack: readonly string[] = []): CompiledPipe {
  if (stack.includes(pipe.name)) throw badRequest(`Circular dependency between pipes: ${[...stack, pipe.name].join(' -> ')}`);
  if (stack.length >= MAX_PIPE_DEPTH) throw badRequest(`Pipes nest deeper than ${MAX_PIPE_DEPTH} levels`);
  const nodes: PipeNodeInput[] = pipe.nodes.map((n) => ({ name: n.name, sql: renderNode(n, values) }));
  const nodeNames = new Set(nodes.map((n) => n.name));
  const dsNames = new Set<string>();
  const datasources: { name: string }[] = [];
  for (const ds of listDataSources(ctx.store, ctx.workspace.id)) {
    datasources.push({ name: ds.name }, { name: ds.name + QUARANTINE_SUFFIX });
    dsNames.add(ds.name);
    dsNames.add(ds.name + QUARANTINE_SUFFIX);
  }
  const endpoints: { pipe: string; sql: string }[] = [];
  const usedPipes = new Set<string>();
  const usedDatasources = new Set<string>();
  for (const node of nodes) {
    const analysis = wrapSql(`node '${node.name}'`, () => analyze(node.sql));
    for (const ref of analysis.tables) {
      if (ref.database !== null || nodeNames.has(ref.table) || dsNames.has(ref.table) || usedPipes.has(ref.table)) continue;
      const other = pipeByName(ctx, ref.table);
      if (other === undefined) continue; // compile() reports `Resource '<x>' not found`
      const otherEndpoint = endpointNode(other);
      if (otherEndpoint === undefined) throw badRequest(`Pipe '${other.name}' has no published endpoint: node '${node.name}' can only read published pipes`);
      const compiled = compilePipe(ctx, other, otherEndpoint.name, values, [...stack, pipe.name]);
      endpoints.push({ pipe: other.name, sql: compiled.sql });
      usedPipes.add(other.name);
      for (const p of compiled.pipes) usedPipes.add(p);
      for (const d of compiled.datasources) usedDatasources.add(d);
    }
  }
  const resources: CompileResources = { database: ctx.workspace.database, datasources, endpoints, filters: ctx.filters };
  const result = wrapSql(`pipe '${pipe.name}'`, () => compile(nodes, target, resources));
  const final = wrapSql(`pipe '${pipe.name}'`, () => analyze(result.sql));
  wrapSql(`pipe '${pipe.name}'`, () => checkSandbox(final, { database: ctx.workspace.database, readableDatasources: '*' }));
  for (const d of result.datasources) usedDatasources.add(d);
  return { sql: result.sql, datasources: [...usedDatasources], pipes: [...usedPipes] };
}

/** Compiled endpoint queries, most recently used last (see compileEndpoint). */
const endpointCache = new Map<string, CompiledPipe>();
const ENDPOINT_CACHE_SIZE = 1024;
/** Keys longer than this (huge parameter values) are not cached. */
const MAX_CACHE_KEY = 16 * 1024;

/**
 * compilePipe for serving an endpoint, cached. The result depends only on what the key
 * holds: the state revision (any change to pipes or data sources makes a new key),
 * the workspace and its database, the token's row filters, the target node and the
 * parameter values. Templates render deterministically (no clock, no randomness), so
 * a hit returns what a fresh compile would. Errors are not cached.
 */
export function compileEndpoint(ctx: CompileContext, pipe: PipeRecord, target: string, values: ParamValues): CompiledPipe {
  if (ctx.overrides !== undefined) return compilePipe(ctx, pipe, target, values);
  // The state revision changes with any change to pipes, data sources or anything else.
  const key = `${ctx.store.revision}\u0000${ctx.workspace.id}\u0000${ctx.workspace.database}\u0000${pipe.id}\u0000${target}\u0000${JSON.stringify(values)}\u0000${JSON.stringify(ctx.filters)}`;
  if (key.length > MAX_CACHE_KEY) return compilePipe(ctx, pipe, target, values);
  const hit = endpointCache.get(key);
  if (hit !== undefined) {
    endpointCache.delete(key);
    endpointCache.set(key, hit);
    return hit;
  }
  const compiled = compilePipe(ctx, pipe, target, values);
  Object.freeze(compiled.datasources);
  Object.freeze(compiled.pipes);
  Object.freeze(compiled);
  endpointCache.set(key, compiled);
  if (endpointCache.size > ENDPOINT_CACHE_SIZE) endpointCache.delete(endpointCache.keys().next().value as string);
  return compiled;
}

/** A node's SQL with its template rendered. */
export function renderNode(node: PipeNode, values: ParamValues): string {
  return wrapTemplate(() => renderTemplate(node.sql, values).sql);
}

/** The names a node reads (nodes, data sources, pipes), from its SQL rendered with sample values. */
export function nodeDependencies(pipe: PipeRecord, node: PipeNode): string[] {
  try {
    const sql = renderTemplate(node.sql, sampleValues(pipeParams(pipe))).sql;
    const a = analyze(sql);
    return [...new Set(a.tables.map((t) => (t.database === null ? t.table : `${t.database}.${t.table}`)))];
  } catch {
    return [];
  }
}

/** Pipes whose nodes read `name` (a pipe or a data source) through the names they reference. */
export function dependents(store: StateStore, workspaceId: string, name: string): PipeRecord[] {
  return listPipes(store, workspaceId).filter((p) => p.name !== name && p.nodes.some((n) => nodeDependencies(p, n).includes(name)));
}

function wrapTemplate<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TemplateError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

function wrapSql<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw badRequest(`Syntax error in ${where}: ${err.message}`);
    if (err instanceof SqlPolicyError) throw new HttpError(err.status, `${err.message} (in ${where})`);
    throw err;
  }
}
