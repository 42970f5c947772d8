/**
 * Data Sources API (Tinybird v0): create, append, replace, list, describe, drop,
 * truncate, and delete rows by condition.
 */
import { Router } from 'express';
import { gunzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import type { Services } from '../server/services.js';
import { authenticate, hasGlobal, hasResource, requireAny, type AuthContext } from '../auth/context.js';
import { badRequest, conflict, HttpError, tooLarge } from '../server/errors.js';
import { dependents } from '../catalog/pipes.js';
import { bodyChunks, parseMultipart, readBody } from '../server/body.js';
import { parseEngineOptions, parseSchema, SchemaError } from '../catalog/schema.js';
import {
  createDataSource,
  dataSourceStatistics,
  deleteOnCluster,
  replaceOnCluster,
  describeDataSource,
  dropDataSource,
  listDataSources,
  qualified,
  requireDataSource,
  truncateDataSource,
  type DataSourceRecord,
} from '../catalog/datasources.js';
import { appendRows, type AppendOptions, type AppendResult, type DataFormat } from '../ingest/append.js';
import { checkCondition } from '../catalog/conditions.js';
import { stripComments } from '../compiler/index.js';
import { Params, isForm } from './params.js';
import type { Host } from '../clickhouse/host.js';
import { quoteString } from '../clickhouse/sql.js';
import type { WorkspaceRecord } from '../tenancy/model.js';
import { clusterOf } from '../tenancy/provision.js';

export function datasourcesRouter(services: Services): Router {
  const router = Router();
  const { store, hosts, config } = services;

  router.get('/', async (req, res) => {
    const ctx = authenticate(store, req);
    const visible = listDataSources(store, ctx.workspace.id).filter((ds) => canSee(ctx, ds.name));
    res.json({ datasources: visible.map((ds) => describeDataSource(ds)) });
  });

  router.get('/:name', async (req, res) => {
    const ctx = authenticate(store, req);
    const name = req.params.name!;
    requireAny(ctx, [
      [canSee(ctx, name), `DATASOURCES:READ:${name}`],
    ]);
    const ds = requireDataSource(store, ctx.workspace.id, name);
    const statistics = await dataSourceStatistics(hosts.hostFor(ctx.tenant), ctx.workspace, ds.name);
    res.json(describeDataSource(ds, statistics));
  });

  router.post('/', async (req, res) => {
    const ctx = authenticate(store, req);
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    const queryMode = typeof req.query.mode === 'string' ? req.query.mode : undefined;
    // A form body carries parameters unless the query string already says the body is data.
    let form: URLSearchParams | undefined;
    let data: AsyncIterable<Buffer> | undefined;
    let fileFormat: DataFormat | undefined;
    if (contentType.startsWith('multipart/form-data')) {
      const parts = parseMultipart(await readBody(req, config.maxBodyBytes), contentType);
      form = new URLSearchParams();
      for (const part of parts) {
        if (part.filename !== undefined || part.name === 'csv' || part.name === 'ndjson' || part.name === 'file') {
          if (data !== undefined) throw badRequest('Send one file per request');
          const bytes = maybeGunzip(part.data, config.maxBodyBytes);
          data = single(bytes);
          fileFormat = formatFromName(part.filename ?? '') ?? (part.name === 'ndjson' ? 'ndjson' : part.name === 'csv' ? 'csv' : undefined);
        } else {
          form.append(part.name, part.data.toString('utf8'));
        }
      }
    } else if (isForm(req) && (queryMode === undefined || queryMode === 'create') && typeof req.query.schema !== 'string') {
      form = new URLSearchParams((await readBody(req, config.maxFormBytes)).toString('utf8'));
    } else {
      data = bodyChunks(req, config.maxBodyBytes);
    }
    const params = new Params(req, form);
    const mode = params.get('mode') ?? 'create';
    if (mode !== 'create' && mode !== 'append' && mode !== 'replace') throw badRequest(`Invalid mode '${mode.slice(0, 40)}': expected create, append or replace`);
    if (params.get('url') !== undefined) throw badRequest("Importing from a 'url' is not supported: send the data in the request body");
    const host = hosts.hostFor(ctx.tenant);
    const format = dataFormat(params.get('format'), contentType, fileFormat);
    const delimiter = params.get('dialect_delimiter');
    if (delimiter !== undefined && delimiter.length !== 1) throw badRequest("Invalid 'dialect_delimiter': expected one character");
    const appendOptions: AppendOptions = { format, batchBytes: config.ingest.maxBatchBytes, ...(delimiter === undefined ? {} : { delimiter }) };

    if (mode === 'create') {
      requireAny(ctx, [[hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE']]);
      const name = params.require('name');
      const schema = params.get('schema');
      if (schema === undefined || schema.trim() === '') throw badRequest("Missing required parameter 'schema': describe the columns, e.g. schema=`ts` DateTime, `event` String");
      let columns;
      let engine;
      try {
        columns = parseSchema(schema);
        engine = parseEngineOptions({
          engine: params.get('engine'),
          engine_sorting_key: params.get('engine_sorting_key'),
          engine_partition_key: params.get('engine_partition_key'),
          engine_ttl: params.get('engine_ttl'),
          engine_settings: params.get('engine_settings'),
          engine_sharding_key: params.get('engine_sharding_key'),
        });
      } catch (err) {
        if (err instanceof SchemaError) throw badRequest(err.message);
        throw err;
      }
      const ds = await createDataSource(store, host, ctx.workspace, { name, description: params.get('description') ?? '', columns, engine });
      let appended: AppendResult | undefined;
      if (data !== undefined) appended = await appendRows(host, ctx.workspace, ds, data, appendOptions);
      res.status(200).json(appendResponse(ds, appended));
      return;
    }

    const name = params.require('name');
    const ds = requireDataSource(store, ctx.workspace.id, name);
    if (mode === 'append') {
      requireAny(ctx, [
        [hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE'],
        [hasResource(ctx, 'DATASOURCES:APPEND', name), `DATASOURCES:APPEND:${name}`],
      ]);
    } else {
      requireAny(ctx, [[hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE']]);
    }
    if (data === undefined) throw badRequest(`mode=${mode} needs data: send CSV or NDJSON in the request body or as a multipart file`);
    const result =
      mode === 'append'
        ? await appendRows(host, ctx.workspace, ds, data, appendOptions)
        : await replaceData(host, ctx.workspace, ds, data, appendOptions);
    res.status(200).json(appendResponse(ds, result));
  });

  router.delete('/:name', async (req, res) => {
    const ctx = authenticate(store, req);
    const name = req.params.name!;
    requireAny(ctx, [[hasResource(ctx, 'DATASOURCES:DROP', name), `DATASOURCES:DROP:${name}`]]);
    const ds = requireDataSource(store, ctx.workspace.id, name);
    const users = dependents(store, ctx.workspace.id, ds.name);
    if (users.length > 0) throw conflict(`Data Source '${ds.name}' is used by the pipes ${users.map((u) => `'${u.name}'`).join(', ')}: change or delete them first`);
    await dropDataSource(store, hosts.hostFor(ctx.tenant), ctx.workspace, ds);
    res.status(204).end();
  });

  router.post('/:name/truncate', async (req, res) => {
    const ctx = authenticate(store, req);
    const name = req.params.name!;
    requireAny(ctx, [
      [hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE'],
      [hasResource(ctx, 'DATASOURCES:DROP', name), `DATASOURCES:DROP:${name}`],
    ]);
    const ds = requireDataSource(store, ctx.workspace.id, name);
    await truncateDataSource(hosts.hostFor(ctx.tenant), ctx.workspace, ds);
    res.status(205).end();
  });

  router.post('/:name/delete', async (req, res) => {
    const ctx = authenticate(store, req);
    const form = isForm(req) ? new URLSearchParams((await readBody(req, config.maxFormBytes)).toString('utf8')) : undefined;
    const params = new Params(req, form);
    const name = req.params.name!;
    requireAny(ctx, [
      [hasGlobal(ctx, 'DATASOURCES:CREATE'), 'DATASOURCES:CREATE'],
      [hasResource(ctx, 'DATASOURCES:DROP', name), `DATASOURCES:DROP:${name}`],
    ]);
    const ds = requireDataSource(store, ctx.workspace.id, name);
    const condition = params.require('delete_condition');
    checkCondition(condition, ds.name, 'delete_condition');
    const host = hosts.hostFor(ctx.tenant);
    const id = randomUUID();
    const before = await countRows(host, ctx.workspace, ds);
    // Comments never reach a host: 18.16 and 26 disagree on nested ones.
    await deleteRows(host, ctx.workspace, ds, stripComments(condition));
    const after = await countRows(host, ctx.workspace, ds);
    res.json({
      id,
      job_id: id,
      delete_id: id,
      kind: 'delete_data',
      status: 'done',
      datasource: { id: ds.id, name: ds.name },
      delete_condition: condition,
      rows_affected: Math.max(0, before - after),
    });
  });

  return router;
}

/** A token sees a data source it can read, append to or drop (or all, with CREATE/ADMIN). */
function canSee(ctx: AuthContext, name: string): boolean {
  return (
    hasGlobal(ctx, 'DATASOURCES:CREATE') ||
    hasResource(ctx, 'DATASOURCES:READ', name) ||
    hasResource(ctx, 'DATASOURCES:APPEND', name) ||
    hasResource(ctx, 'DATASOURCES:DROP', name)
  );
}

function dataFormat(param: string | undefined, contentType: string, fromFile: DataFormat | undefined): DataFormat {
  if (param !== undefined) {
    const p = param.toLowerCase();
    if (p === 'csv') return 'csv';
    if (p === 'ndjson' || p === 'json') return 'ndjson';
    throw badRequest(`Invalid format '${param.slice(0, 40)}': expected csv or ndjson`);
  }
  if (fromFile !== undefined) return fromFile;
  if (contentType.includes('ndjson') || contentType.includes('application/json') || contentType.includes('jsonlines')) return 'ndjson';
  return 'csv';
}

function formatFromName(filename: string): DataFormat | undefined {
  const f = filename.toLowerCase().replace(/\.gz$/, '');
  if (f.endsWith('.csv')) return 'csv';
  if (f.endsWith('.ndjson') || f.endsWith('.jsonl') || f.endsWith('.json')) return 'ndjson';
  return undefined;
}

function maybeGunzip(data: Buffer, maxBytes: number): Buffer {
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) return data;
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(`Request body too large: the limit is ${maxBytes} bytes (after gzip decoding)`);
    throw badRequest('Invalid gzip file');
  }
}

async function* single(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/**
 * Replace: load the new rows into a staging table, then swap it in with one RENAME
 * and drop the old table. Readers see either the old data or the new, never a mix.
 */
async function replaceData(host: Host, workspace: WorkspaceRecord, ds: DataSourceRecord, data: AsyncIterable<Buffer>, options: AppendOptions): Promise<AppendResult> {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
  const cluster = clusterOf(host);
  if (cluster !== undefined) return replaceOnCluster(host, cluster, workspace, ds, suffix, (table) => appendRows(host, workspace, ds, data, { ...options, table }));
  const staging = `${ds.name}__replace_${suffix}`;
  const old = `${ds.name}__old_${suffix}`;
  await host.command(`CREATE TABLE ${qualified(workspace, staging)} AS ${qualified(workspace, ds.name)}`);
  try {
    const result = await appendRows(host, workspace, ds, data, { ...options, table: staging });
    await host.command(`RENAME TABLE ${qualified(workspace, ds.name)} TO ${qualified(workspace, old)}, ${qualified(workspace, staging)} TO ${qualified(workspace, ds.name)}`);
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, old)}`);
    return result;
  } catch (err) {
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, staging)}`).catch(() => undefined);
    throw err;
  }
}

async function countRows(host: Host, workspace: WorkspaceRecord, ds: DataSourceRecord): Promise<number> {
  const rows = await host.queryRows<{ c: string | number }>(`SELECT count() AS c FROM ${qualified(workspace, ds.name)}`);
  return Number(rows[0]?.c ?? 0);
}

const MUTATION_WAIT_MS = 60_000;
const stillRunning = (): HttpError => new HttpError(504, 'The delete is still running on the host; check again later');

/** ALTER TABLE ... DELETE, then wait until the mutation is done (portable across versions). */
async function deleteRows(host: Host, workspace: WorkspaceRecord, ds: DataSourceRecord, condition: string): Promise<void> {
  const cluster = clusterOf(host);
  if (cluster !== undefined) return deleteOnCluster(host, cluster, workspace, ds, condition, MUTATION_WAIT_MS, stillRunning);
  await host.command(`ALTER TABLE ${qualified(workspace, ds.name)} DELETE WHERE ${condition}`);
  const deadline = Date.now() + MUTATION_WAIT_MS;
  for (;;) {
    const rows = await host.queryRows<{ c: string | number }>(`SELECT count() AS c FROM system.mutations WHERE database = ${quoteString(workspace.database)} AND table = ${quoteString(ds.name)} AND is_done = 0`);
    if (Number(rows[0]?.c ?? 0) === 0) return;
    if (Date.now() > deadline) throw stillRunning();
    await new Promise((r) => setTimeout(r, 100));
  }
}

function appendResponse(ds: DataSourceRecord, result: AppendResult | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = { datasource: describeDataSource(ds) };
  if (result === undefined) return body;
  return {
    ...body,
    id: result.importId,
    import_id: result.importId,
    job_id: result.importId,
    status: 'done',
    successful_rows: result.successfulRows,
    quarantine_rows: result.quarantinedRows,
    invalid_lines: 0,
    error: result.quarantinedRows > 0 ? `There was an error with file contents: ${result.quarantinedRows} row${result.quarantinedRows === 1 ? '' : 's'} in quarantine.` : false,
    ...(result.errors.length > 0 ? { errors: result.errors } : {}),
  };
}

