/**
 * Data Sources API appends of NDJSON (ingest/append.ts) write good rows as
 * TabSeparated (native encoder when built) plus JSONEachRow fallback rows: the rows
 * stored by chdb, and the quarantine rows, must be exactly those of the JSONEachRow-only
 * TypeScript path, whatever the batch size (several inserts per append).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { RawInsertFormat } from 'chdb';
import { createQuarantineTableSql, createTableSql, parseEngineOptions, parseSchema } from '../../src/catalog/schema.js';
import type { DataSourceRecord } from '../../src/catalog/datasources.js';
import type { WorkspaceRecord } from '../../src/tenancy/model.js';
import type { Host, InsertFormat } from '../../src/clickhouse/host.js';
import { appendRows } from '../../src/ingest/append.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT } from '../../src/ingest/encode.js';

const dir = mkdtempSync(join(tmpdir(), 'colibri-ingest-append-'));
const session = new Session(dir);
after(() => {
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

const SCHEMA = parseSchema([
  '`ts` DateTime `json:$.ts`',
  '`id` Int64 `json:$.id`',
  '`name` String `json:$.user.name`',
  '`tag` LowCardinality(String) `json:$.tag`',
  '`score` Nullable(Float64) `json:$.score`',
  '`note` String `json:$.note` DEFAULT concat(\'n-\', toString(id))',
  '`xs` Array(Int32) `json:$.xs`',
].join(', '));

function lines(): string {
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const o: Record<string, unknown> = { ts: `2024-05-01 10:${String(i % 60).padStart(2, '0')}:00`, id: i, user: { name: `u\t${i}\\é😀` }, tag: ['a', 'b', 'c'][i % 3], score: i % 7 === 0 ? null : i / 3, xs: [i, -i] };
    if (i % 5 !== 0) o.note = `note ${i}`; // every fifth row leaves note to its DEFAULT
    let line = JSON.stringify(o);
    if (i % 11 === 0) line = line.replace(`"id":${i}`, '"id":"x"'); // quarantined
    if (i % 13 === 0) line = line.replace('"tag":"', '"tag":"\\ud83d'); // lone surrogate
    out.push(line);
  }
  out.push('{"broken":', '', '[1,2]');
  return `${out.join('\n')}\n`;
}

let n = 0;
async function tables(): Promise<{ ws: WorkspaceRecord; ds: DataSourceRecord; db: string; t: string }> {
  const db = 'a';
  const t = `t${++n}`;
  await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await session.queryAsync(createTableSql(db, t, SCHEMA, parseEngineOptions({ engine_sorting_key: 'id' })));
  await session.queryAsync(createQuarantineTableSql(db, `${t}_quarantine`, SCHEMA));
  const ws = { database: db } as unknown as WorkspaceRecord;
  const ds = { name: t, columns: SCHEMA } as unknown as DataSourceRecord;
  return { ws, ds, db, t };
}

/** A Host over the chdb session, recording the formats it was given. */
function chdbHost(formats: string[]): Host {
  return {
    async insert(table: string, payload: Buffer | string | readonly Buffer[], format: InsertFormat) {
      formats.push(format);
      const values = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : Buffer.concat(payload);
      await session.insert({ table: table.replace(/`/g, ''), values, format: format as RawInsertFormat });
      return { rowsWritten: 0, bytesWritten: 0 };
    },
  } as unknown as Host;
}

async function rows(sql: string): Promise<string[]> {
  return (await session.queryAsync(sql, { format: 'JSONEachRow' })).text().split('\n').filter((l) => l !== '').sort();
}

async function* chunked(body: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

test('NDJSON append: TabSeparated + fallback rows store exactly what the JSONEachRow path stores', async () => {
  const body = Buffer.from(lines());
  // Reference: the TypeScript encoder, JSONEachRow only, one insert per table.
  const ref = await tables();
  const enc = createNdjsonEncoder(SCHEMA, { importId: 'ref', now: new Date() }, { native: false });
  const a = enc.push(body);
  const b = enc.end();
  await session.insert({ table: `${ref.db}.${ref.t}`, values: Buffer.concat([a.good, b.good]), format: GOOD_FORMAT });
  await session.insert({ table: `${ref.db}.${ref.t}_quarantine`, values: Buffer.concat([a.quarantine, b.quarantine]), format: QUARANTINE_FORMAT });

  for (const batchBytes of [1 << 30, 20_000]) {
    const got = await tables();
    const formats: string[] = [];
    const r = await appendRows(chdbHost(formats), got.ws, got.ds, chunked(body, 4093), { format: 'ndjson', batchBytes });
    assert.ok(formats.includes('TabSeparated'), 'good rows went as TabSeparated');
    assert.ok(formats.includes('JSONEachRow'), 'rows leaving a column to its DEFAULT went as JSONEachRow');
    if (batchBytes < 1 << 30) assert.ok(formats.length > 6, 'several inserts');
    assert.equal(r.successfulRows + r.quarantinedRows, 3002);
    assert.equal(r.successfulRows, a.goodRows + b.goodRows);
    const cols = 'ts, id, name, tag, score, note, xs';
    assert.deepEqual(await rows(`SELECT ${cols} FROM ${got.db}.${got.t}`), await rows(`SELECT ${cols} FROM ${ref.db}.${ref.t}`));
    const q = `c__error_column, c__error, ${cols}`;
    assert.deepEqual(await rows(`SELECT ${q} FROM ${got.db}.${got.t}_quarantine`), await rows(`SELECT ${q} FROM ${ref.db}.${ref.t}_quarantine`));
  }
});
