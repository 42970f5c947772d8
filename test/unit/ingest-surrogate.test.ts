/**
 * Lone surrogates (`"\ud83d"` in the NDJSON) in every payload an encoder writes: the
 * TabSeparated good rows, the JSONEachRow good rows (Data Sources API), the
 * JSONEachRow fallback rows (a column left to its DEFAULT) and the quarantine rows.
 * JSON.stringify writes such a value as the escape `\ud83d`, which ClickHouse refuses,
 * failing the whole insert: every payload must be accepted by chdb, and the value
 * stored the same way on every path (U+FFFD, as UTF-8 encoding of the TSV path does).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createQuarantineTableSql, createTableSql, parseEngineOptions, parseSchema } from '../../src/catalog/schema.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT, type EncodeContext, type EncodeResult, type GoodFormat } from '../../src/ingest/encode.js';
import { jsonString, wellFormed } from '../../src/ingest/json.js';

const ctx: EncodeContext = { importId: 'imp-s', now: new Date('2024-05-01T10:00:00Z') };
const dir = mkdtempSync(join(tmpdir(), 'colibri-ingest-surrogate-'));
const session = new Session(dir);
after(() => {
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

const SCHEMA = parseSchema(
  '`s` String `json:$.s`, `a` Array(String) `json:$.a`, `n` Int32 `json:$.n`, `d` String `json:$.d` DEFAULT lower(\'DFLT\')',
);

const LINES = [
  '{"s":"x\\ud83dy","a":["\\ud83d","ok"],"n":1,"d":"here"}',
  '{"s":"\\ud83d\\ude00 pair","a":[],"n":2,"d":"\\udfff"}',
  '{"s":"lone at end \\ud83d","a":[],"n":3}', // d missing: a fallback row with the TSV path
  '{"s":"bad int \\ud83d","a":[],"n":"\\ud83d"}', // quarantined, the value quoted in the reason
  '{"s":"\\\\ud83d is text","a":[],"n":5,"d":"\\\\udc00"}', // escaped backslashes: not surrogates
];

function encode(format: GoodFormat | undefined): EncodeResult {
  const enc = createNdjsonEncoder(SCHEMA, ctx, format === undefined ? {} : { format });
  const body = Buffer.from(`${LINES.join('\n')}\n`);
  const a = enc.push(body.subarray(0, 37));
  const b = enc.push(body.subarray(37));
  const c = enc.end();
  const all = [a, b, c];
  return {
    good: Buffer.concat(all.map((r) => r.good)),
    goodRows: all.reduce((s, r) => s + r.goodRows, 0),
    goodFormat: a.goodFormat,
    fallback: Buffer.concat(all.map((r) => r.fallback)),
    fallbackRows: all.reduce((s, r) => s + r.fallbackRows, 0),
    quarantine: Buffer.concat(all.map((r) => r.quarantine)),
    quarantineRows: all.reduce((s, r) => s + r.quarantineRows, 0),
    errors: all.flatMap((r) => r.errors),
  };
}

let tableNo = 0;
async function store(r: EncodeResult): Promise<{ rows: string[]; quarantine: string[] }> {
  const t = `t${++tableNo}`;
  await session.queryAsync('CREATE DATABASE IF NOT EXISTS s');
  await session.queryAsync(createTableSql('s', t, SCHEMA, parseEngineOptions({ engine_sorting_key: 'n' })));
  await session.queryAsync(createQuarantineTableSql('s', `${t}_quarantine`, SCHEMA));
  if (r.goodRows > 0) await session.insert({ table: `s.${t}`, values: r.good, format: r.goodFormat });
  if (r.fallbackRows > 0) await session.insert({ table: `s.${t}`, values: r.fallback, format: GOOD_FORMAT });
  if (r.quarantineRows > 0) await session.insert({ table: `s.${t}_quarantine`, values: r.quarantine, format: QUARANTINE_FORMAT });
  const rows = (await session.queryAsync(`SELECT s, a, n, d FROM s.${t} ORDER BY n`, { format: 'JSONEachRow' })).text().split('\n').filter((l) => l !== '');
  const quarantine = (await session.queryAsync(`SELECT c__error, s, n FROM s.${t}_quarantine`, { format: 'JSONEachRow' })).text().split('\n').filter((l) => l !== '');
  return { rows, quarantine };
}

test('jsonString writes lone surrogates as U+FFFD and leaves pairs and escaped text alone', () => {
  assert.equal(jsonString('a\ud83db'), '"a\ufffdb"');
  assert.equal(jsonString('\udc00'), '"\ufffd"');
  assert.equal(jsonString('\ud83d\ude00'), JSON.stringify('\ud83d\ude00'));
  assert.equal(jsonString('\\ud83d'), JSON.stringify('\\ud83d'));
  assert.equal(jsonString('\ud83d\ud83d\ude00'), JSON.stringify('\ufffd\ud83d\ude00'));
  assert.equal(wellFormed('x\udfffy\ud800'), 'x\ufffdy\ufffd');
});

test('rows with lone surrogates are stored (same values on every path) and quarantine rows are accepted', async () => {
  const results = { tsv: encode('TabSeparated'), json: encode('JSONEachRow') };
  for (const [name, r] of Object.entries(results)) {
    assert.equal(r.goodRows + r.fallbackRows, 4, name);
    assert.equal(r.quarantineRows, 1, name);
    assert.doesNotMatch(r.good.toString() + r.fallback.toString() + r.quarantine.toString(), /(?<!\\)\\ud[89a-f]/i, `${name}: no surrogate escape is written`);
  }
  assert.equal(results.tsv.goodFormat, 'TabSeparated');
  assert.equal(results.tsv.fallbackRows, 1, 'the row leaving d to its DEFAULT goes as JSONEachRow');
  const tsv = await store(results.tsv);
  const json = await store(results.json);
  assert.deepEqual(json.rows, tsv.rows, 'the same values whichever path the rows took');
  assert.equal(tsv.rows.length, 4);
  const first = JSON.parse(tsv.rows[0]!) as { s: string; a: string[] };
  assert.equal(first.s, 'x\ufffdy');
  assert.deepEqual(first.a, ['\ufffd', 'ok']);
  assert.equal((JSON.parse(tsv.rows[1]!) as { s: string; d: string }).s, '\ud83d\ude00 pair');
  assert.equal((JSON.parse(tsv.rows[1]!) as { d: string }).d, '\ufffd');
  assert.deepEqual(JSON.parse(tsv.rows[2]!), { s: 'lone at end \ufffd', a: [], n: 3, d: 'dflt' });
  assert.deepEqual(JSON.parse(tsv.rows[3]!), { s: '\\ud83d is text', a: [], n: 5, d: '\\udc00' });
  assert.equal(tsv.quarantine.length, 1);
  assert.deepEqual(json.quarantine, tsv.quarantine);
  const q = JSON.parse(tsv.quarantine[0]!) as { c__error: string[]; s: string; n: string };
  assert.equal(q.s, 'bad int \ufffd');
  assert.equal(q.n, '\ufffd');
  assert.match(q.c__error.join(' '), /column 'n'/);
});

test('Map keys and values with lone surrogates (JSONEachRow only) are accepted', async () => {
  const cols = parseSchema('`n` Int32 `json:$.n`, `m` Map(String, String) `json:$.m`');
  const enc = createNdjsonEncoder(cols, ctx, { format: 'TabSeparated' });
  const r = enc.push(Buffer.from('{"n":1,"m":{"k\\udc00":"v\\ud83d","\\ud83d\\ude00":"ok"}}\n'));
  enc.end();
  assert.equal(r.goodRows, 1);
  assert.equal(r.goodFormat, 'JSONEachRow');
  await session.queryAsync('CREATE DATABASE IF NOT EXISTS s');
  await session.queryAsync(createTableSql('s', 'maps', cols, parseEngineOptions({ engine_sorting_key: 'n' })));
  await session.insert({ table: 's.maps', values: r.good, format: r.goodFormat });
  const row = JSON.parse((await session.queryAsync('SELECT m FROM s.maps', { format: 'JSONEachRow' })).text()) as { m: Record<string, string> };
  assert.deepEqual(row.m, { 'k\ufffd': 'v\ufffd', '\ud83d\ude00': 'ok' });
});
