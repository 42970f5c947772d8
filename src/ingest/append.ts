/**
 * Appending a body of CSV or NDJSON rows to a data source: rows are validated and
 * encoded as they stream in, inserted in bounded batches, and rows that do not fit
 * the schema go to the quarantine table. Nothing is dropped: every row seen is
 * either written or quarantined, and a failure part-way reports how many rows were
 * written before it.
 *
 * NDJSON good rows go as TabSeparated when the schema allows it (the native encoder's
 * hot path, as for the Events API; cheaper for ClickHouse to parse), with the rows that
 * leave a column to its server-side DEFAULT as JSONEachRow (see ndjson.ts / tsv.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Host } from '../clickhouse/host.js';
import type { DataSourceRecord } from '../catalog/datasources.js';
import { QUARANTINE_SUFFIX, qualified } from '../catalog/datasources.js';
import type { WorkspaceRecord } from '../tenancy/model.js';
import { HttpError } from '../server/errors.js';
import { createNdjsonEncoder } from './ndjson.js';
import { createCsvEncoder } from './csv.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT, type EncodeResult, type GoodFormat } from './encode.js';
import type { InsertFormat } from '../clickhouse/host.js';

export type DataFormat = 'csv' | 'ndjson';

export interface AppendOptions {
  format: DataFormat;
  /** CSV only: the field delimiter (default ','). */
  delimiter?: string;
  /** Insert when this many encoded bytes are pending. */
  batchBytes: number;
  /** Target table when not the data source's own (replace writes a staging table). */
  table?: string;
}

export interface AppendResult {
  importId: string;
  successfulRows: number;
  quarantinedRows: number;
  /** A few messages about quarantined rows, for the response. */
  errors: string[];
}

const MAX_ERRORS = 10;

/** Encoded rows waiting for an insert into one table in one format. */
interface Pending {
  tableName: string;
  what: 'good' | 'quarantine';
  chunks: Buffer[];
  bytes: number;
  rows: number;
}

/** Stream `chunks` into the data source. */
export async function appendRows(
  host: Host,
  workspace: WorkspaceRecord,
  ds: DataSourceRecord,
  chunks: AsyncIterable<Buffer>,
  options: AppendOptions,
): Promise<AppendResult> {
  const importId = randomUUID();
  const ctx = { importId, now: new Date() };
  const encoder =
    options.format === 'csv'
      ? createCsvEncoder(ds.columns, ctx, { header: 'auto', ...(options.delimiter === undefined ? {} : { delimiter: options.delimiter }) })
      : createNdjsonEncoder(ds.columns, ctx, { format: 'TabSeparated' });
  const table = qualified(workspace, options.table ?? ds.name);
  const quarantineTable = qualified(workspace, ds.name + QUARANTINE_SUFFIX);
  const result: AppendResult = { importId, successfulRows: 0, quarantinedRows: 0, errors: [] };
  const pending = (tableName: string, what: 'good' | 'quarantine'): Pending => ({ tableName, what, chunks: [], bytes: 0, rows: 0 });
  const good = pending(table, 'good');
  const fallback = pending(table, 'good');
  const bad = pending(quarantineTable, 'quarantine');
  let goodFormat: GoodFormat = GOOD_FORMAT;

  const flush = async (p: Pending, format: InsertFormat): Promise<void> => {
    if (p.rows === 0) return;
    await insertOrReport(host, p.tableName, p.chunks.length === 1 ? p.chunks[0]! : p.chunks, p.what, result, format);
    if (p.what === 'good') result.successfulRows += p.rows;
    else result.quarantinedRows += p.rows;
    p.chunks = [];
    p.bytes = 0;
    p.rows = 0;
  };
  const add = (p: Pending, payload: Buffer, rows: number): void => {
    if (rows === 0) return;
    p.chunks.push(payload);
    p.bytes += payload.length;
    p.rows += rows;
  };
  const take = async (r: EncodeResult): Promise<void> => {
    goodFormat = r.goodFormat;
    add(good, r.good, r.goodRows);
    add(fallback, r.fallback, r.fallbackRows);
    add(bad, r.quarantine, r.quarantineRows);
    for (const e of r.errors) if (result.errors.length < MAX_ERRORS) result.errors.push(e);
    if (good.bytes >= options.batchBytes) await flush(good, goodFormat);
    if (fallback.bytes >= options.batchBytes) await flush(fallback, GOOD_FORMAT);
    if (bad.bytes >= options.batchBytes) await flush(bad, QUARANTINE_FORMAT);
  };

  for await (const chunk of chunks) await take(encoder.push(chunk));
  await take(encoder.end());
  await flush(good, goodFormat);
  await flush(fallback, GOOD_FORMAT);
  await flush(bad, QUARANTINE_FORMAT);
  return result;
}

async function insertOrReport(host: Host, table: string, payload: Buffer | readonly Buffer[], what: 'good' | 'quarantine', so: AppendResult, format: InsertFormat): Promise<void> {
  try {
    await host.insert(table, payload, format);
  } catch (err) {
    const written = `${so.successfulRows} rows were written and ${so.quarantinedRows} quarantined before the failure`;
    if (err instanceof HttpError) throw new HttpError(err.status, `${err.message} (${written})`, err.headers);
    const e = err as Error & { retryAfterSeconds?: number };
    if (e.retryAfterSeconds !== undefined) {
      throw new HttpError(503, `ClickHouse host unavailable while writing ${what} rows: ${written}; retry`, { 'Retry-After': String(Math.ceil(e.retryAfterSeconds)) });
    }
    throw new HttpError(500, `Insert of ${what} rows failed: ${e.message} (${written})`);
  }
}
