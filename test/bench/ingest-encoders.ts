/**
 * Throughput of the NDJSON and CSV encoders on one core (prints, does not assert).
 * Run: npx tsc -p tsconfig.json && node dist/test/bench/ingest-encoders.js
 */
import { parseSchema } from '../../src/catalog/schema.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { createCsvEncoder } from '../../src/ingest/csv.js';
import type { Encoder } from '../../src/ingest/encode.js';

const ROWS = 200_000;
const CHUNK = 64 * 1024;

function makeNdjson(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(JSON.stringify({
      timestamp: `2024-05-01 10:${String(i % 60).padStart(2, '0')}:00`,
      session_id: `c5b8a9d2-3f41-4e6b-9a7c-${String(i).padStart(12, '0')}`,
      action: i % 3 === 0 ? 'page_hit' : 'click',
      version: '1.0',
      payload: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64)', locale: 'en-US', pathname: `/docs/page/${i % 100}` },
    }));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

function makeCsv(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(`2024-05-01 10:${String(i % 60).padStart(2, '0')}:00,c5b8a9d2-3f41-4e6b-9a7c-${String(i).padStart(12, '0')},${i % 3 === 0 ? 'page_hit' : 'click'},${i},"Mozilla/5.0 (X11; Linux x86_64), en-US",/docs/page/${i % 100}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

function run(name: string, make: () => Encoder, data: Buffer): void {
  let best = Infinity;
  let rows = 0;
  for (let rep = 0; rep < 4; rep++) {
    const e = make();
    const t0 = process.hrtime.bigint();
    rows = 0;
    for (let off = 0; off < data.length; off += CHUNK) rows += e.push(data.subarray(off, off + CHUNK)).goodRows;
    rows += e.end().goodRows;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (rep > 0) best = Math.min(best, s);
  }
  const rate = Math.round(ROWS / best);
  console.log(`${name}: ${rows} rows, ${(data.length / ROWS).toFixed(0)} B/row, ${rate.toLocaleString('en-US')} rows/s, ${(data.length / best / 1e6).toFixed(1)} MB/s`);
}

const ctx = { importId: 'bench', now: new Date() };
const ndCols = parseSchema(
  '`timestamp` DateTime `json:$.timestamp`, `session_id` String `json:$.session_id`, `action` LowCardinality(String) `json:$.action`, ' +
    '`version` LowCardinality(String) `json:$.version`, `payload` String `json:$.payload`',
);
const ndCols3 = parseSchema('`timestamp` DateTime `json:$.timestamp`, `session_id` String `json:$.session_id`, `pathname` String `json:$.payload.pathname`');
const csvCols = parseSchema('timestamp DateTime, session_id String, action String, n UInt32, ua String, pathname String');
const nd = makeNdjson();
run('ndjson 3 jsonpaths', () => createNdjsonEncoder(ndCols3, ctx), nd);
run('ndjson 5 columns (Tinybird web analytics shape)', () => createNdjsonEncoder(ndCols, ctx), nd);
run('csv 6 columns', () => createCsvEncoder(csvCols, ctx, { header: false }), makeCsv());
