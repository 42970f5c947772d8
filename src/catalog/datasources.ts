/**
 * Data sources: the record in the control-plane state, and the DDL on the
 * tenant's host. Each data source is a table in the workspace database plus its
 * `<name>_quarantine` companion, where rows that fail validation land.
 */
import { randomBytes } from 'node:crypto';
import type { Host } from '../clickhouse/host.js';
import { quoteIdentifier, quoteString } from '../clickhouse/sql.js';
import type { StateStore } from '../state/store.js';
import { workspaceRecords } from './workspace-index.js';
import type { WorkspaceRecord } from '../tenancy/model.js';
import { badRequest, conflict, notFound } from '../server/errors.js';
import { RESOURCE_NAME } from '../auth/scopes.js';
import { createQuarantineTableSql, createTableSql, formatSchema, type ColumnDef, type EngineOptions } from './schema.js';
import { clusterOf, onCluster, shardDatabase } from '../tenancy/provision.js';

export interface DataSourceRecord {
  readonly [key: string]: unknown;
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  columns: ColumnDef[];
  engine: EngineOptions;
  createdAt: string;
  updatedAt: string;
}

export const QUARANTINE_SUFFIX = '_quarantine';
const MAX_DATASOURCES_PER_WORKSPACE = 10_000;

/** The workspace's data sources, in creation order (a new array). */
export function listDataSources(store: StateStore, workspaceId: string): DataSourceRecord[] {
  return [...workspaceRecords<DataSourceRecord>(store, 'datasources', workspaceId).list];
}

export function findDataSource(store: StateStore, workspaceId: string, name: string): DataSourceRecord | undefined {
  const ds = workspaceRecords<DataSourceRecord>(store, 'datasources', workspaceId).byName.get(name);
  return ds !== undefined && ds.name === name ? ds : undefined;
}

/** The data source, or a 404 that names it. */
export function requireDataSource(store: StateStore, workspaceId: string, name: string): DataSourceRecord {
  const ds = findDataSource(store, workspaceId, name);
  if (ds === undefined) throw notFound(`Data Source '${name}' not found`);
  return ds;
}

/** Check a data source name; 400 naming the rule it breaks. */
export function validateDataSourceName(name: string): void {
  if (!RESOURCE_NAME.test(name)) {
    throw badRequest(`Invalid Data Source name '${name.slice(0, 80)}': use letters, digits and '_', starting with a letter or '_' (max 128 characters)`);
  }
  if (name.endsWith(QUARANTINE_SUFFIX)) throw badRequest(`Invalid Data Source name '${name}': names ending in '${QUARANTINE_SUFFIX}' are reserved`);
}

export function qualified(workspace: WorkspaceRecord, table: string): string {
  return `${quoteIdentifier(workspace.database)}.${quoteIdentifier(table)}`;
}

/**
 * Create the tables on the host, then record the data source. A crash between the
 * two leaves orphan tables without a record; they are dropped on the next create
 * of the same name (nothing in them was ever acknowledged).
 */
export async function createDataSource(
  store: StateStore,
  host: Host,
  workspace: WorkspaceRecord,
  input: { name: string; description: string; columns: ColumnDef[]; engine: EngineOptions },
): Promise<DataSourceRecord> {
  validateDataSourceName(input.name);
  if (findDataSource(store, workspace.id, input.name) !== undefined) throw conflict(`Data Source '${input.name}' already exists`);
  if (listDataSources(store, workspace.id).length >= MAX_DATASOURCES_PER_WORKSPACE) throw badRequest(`Too many Data Sources in this workspace (max ${MAX_DATASOURCES_PER_WORKSPACE})`);
  const quarantine = input.name + QUARANTINE_SUFFIX;
  const cluster = clusterOf(host);
  if (cluster !== undefined) {
    await createOnCluster(host, cluster, workspace, input.name, createTableSql(shardDatabase(workspace.database), input.name, input.columns, input.engine), shardingKey(input.engine));
    await createOnCluster(host, cluster, workspace, quarantine, createQuarantineTableSql(shardDatabase(workspace.database), quarantine, input.columns), 'rand()');
  } else {
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, input.name)}`);
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, quarantine)}`);
    await host.command(createTableSql(workspace.database, input.name, input.columns, input.engine));
    try {
      await host.command(createQuarantineTableSql(workspace.database, quarantine, input.columns));
    } catch (err) {
      await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, input.name)}`).catch(() => undefined);
      throw err;
    }
  }
  const now = new Date().toISOString();
  const record: DataSourceRecord = {
    id: `t_${randomBytes(16).toString('hex')}`,
    workspaceId: workspace.id,
    name: input.name,
    description: input.description,
    columns: input.columns,
    engine: input.engine,
    createdAt: now,
    updatedAt: now,
  };
  // A concurrent create of the same name may have won while we ran DDL.
  if (findDataSource(store, workspace.id, input.name) !== undefined) throw conflict(`Data Source '${input.name}' already exists`);
  await store.commit([{ op: 'put', collection: 'datasources', id: record.id, value: record }]);
  return record;
}

/**
 * On a cluster (a tenant host with `cluster`): the rows live in local tables of the
 * same name in the workspace's shard database on every shard (ON CLUSTER, ClickHouse's
 * distributed DDL), and the workspace database holds a Distributed table over them
 * that takes the tenant's reads and inserts, so compiled SQL targets it unchanged.
 */
async function createOnCluster(host: Host, cluster: string, workspace: WorkspaceRecord, table: string, localSql: string, key: string): Promise<void> {
  const on = onCluster(cluster);
  const local = localTable(workspace, table);
  await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, table)}${on}`);
  await host.command(`DROP TABLE IF EXISTS ${local}${on}`);
  await host.command(localSql.replace(/^CREATE TABLE (\S+)/, `CREATE TABLE $1${on}`));
  await host.command(
    `CREATE TABLE ${qualified(workspace, table)}${on} AS ${local} ENGINE = Distributed(${quoteIdentifier(cluster)}, ${quoteIdentifier(shardDatabase(workspace.database))}, ${quoteIdentifier(table)}, ${key})`,
  );
}

/** The data source's sharding key (`engine_sharding_key`), or random distribution. */
export function shardingKey(engine: EngineOptions): string {
  const key = engine.shardingKey;
  return typeof key === 'string' && key.trim() !== '' ? key : 'rand()';
}

/** A data source's local table on every shard of a cluster. */
export function localTable(workspace: WorkspaceRecord, table: string): string {
  return `${quoteIdentifier(shardDatabase(workspace.database))}.${quoteIdentifier(table)}`;
}

/**
 * Replace on a cluster: new local tables `<staging>` on every shard (ON CLUSTER) with a
 * Distributed table over them; `load` fills it (rows spread by the sharding key);
 * then on every shard one RENAME swaps the local tables. The data source's Distributed
 * table is untouched: it reads the local table by name, so each shard serves the old
 * rows or the new ones, never a mix (shards switch one after the other, within the
 * distributed DDL). The old local tables and the staging Distributed table are dropped.
 */
export async function replaceOnCluster<R>(host: Host, cluster: string, workspace: WorkspaceRecord, ds: DataSourceRecord, suffix: string, load: (stagingTable: string) => Promise<R>): Promise<R> {
  const on = onCluster(cluster);
  const staging = `${ds.name}__replace_${suffix}`;
  const old = `${ds.name}__old_${suffix}`;
  const dropStaging = async (): Promise<void> => {
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, staging)}${on}`);
    await host.command(`DROP TABLE IF EXISTS ${localTable(workspace, staging)}${on}`);
  };
  await host.command(`CREATE TABLE ${localTable(workspace, staging)}${on} AS ${localTable(workspace, ds.name)}`);
  try {
    await host.command(
      `CREATE TABLE ${qualified(workspace, staging)}${on} AS ${localTable(workspace, staging)} ENGINE = Distributed(${quoteIdentifier(cluster)}, ${quoteIdentifier(shardDatabase(workspace.database))}, ${quoteIdentifier(staging)}, ${shardingKey(ds.engine)})`,
    );
    const result = await load(staging);
    await host.command(`RENAME TABLE ${localTable(workspace, ds.name)} TO ${localTable(workspace, old)}, ${localTable(workspace, staging)} TO ${localTable(workspace, ds.name)}${on}`);
    await host.command(`DROP TABLE IF EXISTS ${localTable(workspace, old)}${on}`);
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, staging)}${on}`);
    return result;
  } catch (err) {
    await dropStaging().catch(() => undefined);
    throw err;
  }
}

/**
 * Delete by condition on a cluster: one mutation on the local table of every shard
 * (ON CLUSTER), then wait until no shard has it pending (`cluster(...)` over
 * system.mutations). Throws `timeout` when still running after `waitMs`.
 */
export async function deleteOnCluster(host: Host, cluster: string, workspace: WorkspaceRecord, ds: DataSourceRecord, condition: string, waitMs: number, timeout: () => Error): Promise<void> {
  await host.command(`ALTER TABLE ${localTable(workspace, ds.name)}${onCluster(cluster)} DELETE WHERE ${condition}`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const rows = await host.queryRows<{ c: string | number }>(
      `SELECT count() AS c FROM cluster(${quoteString(cluster)}, system.mutations) WHERE database = ${quoteString(shardDatabase(workspace.database))} AND table = ${quoteString(ds.name)} AND is_done = 0`,
    );
    if (Number(rows[0]?.c ?? 0) === 0) return;
    if (Date.now() > deadline) throw timeout();
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Forget the data source first (so nothing reads a half-dropped table), then drop its tables. */
export async function dropDataSource(store: StateStore, host: Host, workspace: WorkspaceRecord, ds: DataSourceRecord): Promise<void> {
  await store.commit([{ op: 'delete', collection: 'datasources', id: ds.id }]);
  const cluster = clusterOf(host);
  const on = onCluster(cluster);
  for (const table of [ds.name, ds.name + QUARANTINE_SUFFIX]) {
    await host.command(`DROP TABLE IF EXISTS ${qualified(workspace, table)}${on}`);
    if (cluster !== undefined) await host.command(`DROP TABLE IF EXISTS ${quoteIdentifier(shardDatabase(workspace.database))}.${quoteIdentifier(table)}${on}`);
  }
}

export async function truncateDataSource(host: Host, workspace: WorkspaceRecord, ds: DataSourceRecord): Promise<void> {
  const cluster = clusterOf(host);
  if (cluster === undefined) await host.command(`TRUNCATE TABLE ${qualified(workspace, ds.name)}`);
  else await host.command(`TRUNCATE TABLE ${quoteIdentifier(shardDatabase(workspace.database))}.${quoteIdentifier(ds.name)}${onCluster(cluster)}`);
}

export interface DataSourceStatistics {
  row_count: number;
  bytes: number;
}

/** Rows and bytes on disk, from the host's active parts. */
export async function dataSourceStatistics(host: Host, workspace: WorkspaceRecord, table: string): Promise<DataSourceStatistics> {
  const cluster = clusterOf(host);
  // On a cluster: the active parts of the local tables on every shard.
  const parts = cluster === undefined ? 'system.parts' : `cluster(${quoteString(cluster)}, system.parts)`;
  const database = cluster === undefined ? workspace.database : shardDatabase(workspace.database);
  const rows = await host.queryRows<{ rows: string | number; bytes: string | number }>(
    `SELECT toUInt64(sum(rows)) AS rows, toUInt64(sum(bytes_on_disk)) AS bytes FROM ${parts} WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND active`,
  );
  const row = rows[0];
  return { row_count: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0) };
}

/** The data source in Tinybird's response shape. */
export function describeDataSource(ds: DataSourceRecord, statistics?: DataSourceStatistics): Record<string, unknown> {
  return {
    id: ds.id,
    name: ds.name,
    description: ds.description,
    type: 'ndjson',
    created_at: ds.createdAt,
    updated_at: ds.updatedAt,
    replicated: false,
    version: 0,
    tags: {},
    headers: {},
    shared_with: [],
    used_by: [],
    schema: formatSchema(ds.columns),
    columns: ds.columns.map((c) => ({
      name: c.name,
      normalized_name: c.name,
      type: c.type,
      nullable: /^Nullable\(/.test(c.type),
      default_value: c.defaultExpr,
      jsonpath: c.jsonpath,
      codec: null,
    })),
    engine: {
      engine: ds.engine.engine,
      engine_sorting_key: ds.engine.sortingKey ?? '',
      engine_partition_key: ds.engine.partitionKey ?? '',
      engine_ttl: ds.engine.ttl ?? '',
      engine_settings: ds.engine.settings ?? '',
      ...(typeof ds.engine.shardingKey === 'string' ? { engine_sharding_key: ds.engine.shardingKey } : {}),
    },
    ...(statistics === undefined ? {} : { statistics }),
  };
}
