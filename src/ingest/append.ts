/**
 * Appending a body of CSV or NDJSON rows to a data source: rows are validated and
 * encoded as they stream in, inserted in bounded batches, and rows that do not fit
 * the schema go to the quarantine table. Nothing is dropped: every row seen is
 * either written or quarantined, and a failure part-way reports how many rows were
 * written before it.
 */
import { randomUUID } from 'node:crypto';
import type { Host } from '../clickhouse/host.js';
import type { DataSourceRecord } from '../catalog/datasources.js';
import { QUARANTINE_SUFFIX, qualified } from '../catalog/datasources.js';
import type { WorkspaceRecord } from '../tenancy/model.js';
import { HttpError } from '../server/errors.js';
import { createNdjsonEncoder } from './ndjson.js';
import { createCsvEncoder } from './csv.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT, type EncodeResult } from './encode.js';

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
      : createNdjsonEncoder(ds.columns, ctx);
  const table = qualified(workspace, options.table ?? ds.name);
  const quarantineTable = qualified(workspace, ds.name + QUARANTINE_SUFFIX);
  const result: AppendResult = { importId, successfulRows: 0, quarantinedRows: 0, errors: [] };
  let good: Buffer[] = [];
  let goodBytes = 0;
  let goodRows = 0;
  let bad: Buffer[] = [];
  let badBytes = 0;
  let badRows = 0;

  const flushGood = async (): Promise<void> => {
    if (goodRows === 0) return;
    await insertOrReport(host, table, Buffer.concat(good, goodBytes), 'good', result);
    result.successfulRows += goodRows;
    good = [];
    goodBytes = 0;
    goodRows = 0;
  };
  const flushBad = async (): Promise<void> => {
    if (badRows === 0) return;
    await insertOrReport(host, quarantineTable, Buffer.concat(bad, badBytes), 'quarantine', result, QUARANTINE_FORMAT);
    result.quarantinedRows += badRows;
    bad = [];
    badBytes = 0;
    badRows = 0;
  };
  const take = async (r: EncodeResult): Promise<void> => {
    if (r.goodRows > 0) {
      good.push(r.good);
      goodBytes += r.good.length;
      goodRows += r.goodRows;
    }
    if (r.quarantineRows > 0) {
      bad.push(r.quarantine);
      badBytes += r.quarantine.length;
      badRows += r.quarantineRows;
    }
    for (const e of r.errors) if (result.errors.length < MAX_ERRORS) result.errors.push(e);
    if (goodBytes >= options.batchBytes) await flushGood();
    if (badBytes >= options.batchBytes) await flushBad();
  };

  for await (const chunk of chunks) await take(encoder.push(chunk));
  await take(encoder.end());
  await flushGood();
  await flushBad();
  return result;
}

async function insertOrReport(host: Host, table: string, payload: Buffer, what: 'good' | 'quarantine', so: AppendResult, format = GOOD_FORMAT): Promise<void> {
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
