/**
 * Provisioning a tenant's host, idempotently: Colibri's internal database and tables,
 * and one database per workspace. On a cluster every statement runs ON CLUSTER, and
 * each workspace also gets its shard database (`<db>__shard`) holding the local
 * tables behind the workspace's Distributed tables.
 * Deprovisioning drops what provisioning created.
 */
import { quoteIdentifier } from '../clickhouse/sql.js';
import type { Host } from '../clickhouse/host.js';
import type { ProvisionTarget } from './tenant-host.js';
import { TenantHost } from './tenant-host.js';

/** Colibri's own database on every tenant host (never readable by tenant SQL). */
export const INTERNAL_DATABASE = 'colibri';

/** The database of a workspace's shard-local tables on a cluster. */
export function shardDatabase(database: string): string {
  return `${database}__shard`;
}

/** The cluster a tenant host belongs to, if it is one. */
export function clusterOf(host: Host): string | undefined {
  return host instanceof TenantHost ? host.cluster : undefined;
}

export function onCluster(cluster: string | undefined): string {
  return cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(cluster)}`;
}

const OPS_LOG_COLUMNS = `(
  time DateTime,
  request_id String,
  workspace String,
  kind String,
  status UInt16,
  elapsed_ms UInt32,
  rows_read UInt64,
  error String
)`;

export async function provisionHost(target: ProvisionTarget, databases: readonly string[]): Promise<void> {
  const on = onCluster(target.cluster);
  await target.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(INTERNAL_DATABASE)}${on}`);
  await target.command(
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(INTERNAL_DATABASE)}.ops_log${on} ${OPS_LOG_COLUMNS} ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY time`,
  );
  for (const db of databases) await provisionDatabase(target, db);
}

export async function provisionDatabase(target: ProvisionTarget, database: string): Promise<void> {
  const on = onCluster(target.cluster);
  await target.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${on}`);
  if (target.cluster !== undefined) await target.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(shardDatabase(database))}${on}`);
}

/** Drops the workspace databases (and shard databases) and Colibri's internal database. */
export async function deprovisionHost(host: Host, databases: readonly string[]): Promise<void> {
  const cluster = clusterOf(host);
  const on = onCluster(cluster);
  for (const db of databases) {
    await host.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(db)}${on}`);
    if (cluster !== undefined) await host.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(shardDatabase(db))}${on}`);
  }
  await host.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(INTERNAL_DATABASE)}${on}`);
}
