/**
 * Differential test of the TabSeparated output of the NDJSON encoder: the same NDJSON
 * is encoded as JSONEachRow (the reference) and as TabSeparated, inserted into two
 * tables of the same schema (chdb), and `SELECT *` of both must be identical, as must
 * the quarantine rows and error messages.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createTableSql, parseEngineOptions, parseSchema, type ColumnDef } from '../../src/catalog/schema.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { GOOD_FORMAT, type EncodeResult, type Encoder } from '../../src/ingest/encode.js';
import { tsvEscape } from '../../src/ingest/tsv.js';
import { joinResults } from '../helpers/encode.js';

const ctx = { importId: 'imp-1', now: new Date('2024-05-01T10:00:00Z') };
const dir = mkdtempSync(join(tmpdir(), 'colibri-ingest-tsv-'));
const session = new Session(dir);
after(() => {
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

function runAll(e: Encoder, body: string): EncodeResult {
  const buf = Buffer.from(body);
  // two chunks split inside a line, to exercise the incremental path too
  const cut = Math.floor(buf.length / 2);
  const parts = [e.push(buf.subarray(0, cut)), e.push(buf.subarray(cut)), e.end()];
  return joinResults(parts);
}

async function rows(sql: string): Promise<string[]> {
  const r = await session.queryAsync(sql, { format: 'JSONEachRow' });
  return r.text().trim().split('\n').filter((l) => l !== '');
}

let tableNo = 0;
/**
 * Encodes `body` both ways, inserts both, and checks the stored rows are identical.
 * Returns the TSV-side result for further checks.
 */
async function differential(cols: ColumnDef[], body: string, orderBy: string): Promise<EncodeResult> {
  const n = ++tableNo;
  await session.queryAsync('CREATE DATABASE IF NOT EXISTS d');
  const ref = `ref${n}`;
  const out = `tsv${n}`;
  for (const t of [ref, out]) await session.queryAsync(createTableSql('d', t, cols, parseEngineOptions({ engine_sorting_key: 'tuple()' })));
  const j = runAll(createNdjsonEncoder(cols, ctx), body);
  const t = runAll(createNdjsonEncoder(cols, ctx, { format: 'TabSeparated' }), body);
  assert.equal(j.goodFormat, 'JSONEachRow');
  assert.equal(j.fallbackRows, 0);
  assert.equal(t.goodRows + t.fallbackRows, j.goodRows);
  assert.equal(t.quarantineRows, j.quarantineRows);
  assert.equal(t.quarantine.toString(), j.quarantine.toString());
  assert.deepEqual(t.errors, j.errors);
  if (j.goodRows > 0) await session.insert({ table: `d.${ref}`, values: j.good, format: GOOD_FORMAT });
  if (t.goodRows > 0) await session.insert({ table: `d.${out}`, values: t.good, format: t.goodFormat });
  if (t.fallbackRows > 0) await session.insert({ table: `d.${out}`, values: t.fallback, format: GOOD_FORMAT });
  const a = await rows(`SELECT * FROM d.${ref} ORDER BY ${orderBy}`);
  const b = await rows(`SELECT * FROM d.${out} ORDER BY ${orderBy}`);
  assert.equal(a.length, j.goodRows);
  assert.deepEqual(b, a);
  return t;
}

const ALL_TYPES = parseSchema(
  '`k` UInt32 `json:$.k`, `u64` UInt64 `json:$.u64`, `i64` Int64 `json:$.i64`, `i128` Int128 `json:$.i128`, `u256` UInt256 `json:$.u256`, ' +
    '`i8` Int8 `json:$.i8`, `f32` Float32 `json:$.f32`, `f64` Float64 `json:$.f64`, `dec` Decimal(38, 6) `json:$.dec`, `d32` Decimal32(2) `json:$.d32`, ' +
    '`s` String `json:$.s`, `sn` Nullable(String) `json:$.sn`, `lc` LowCardinality(String) `json:$.lc`, `lcn` LowCardinality(Nullable(String)) `json:$.lcn`, ' +
    '`fs` FixedString(4) `json:$.fs`, `u` UUID `json:$.u`, `ip4` IPv4 `json:$.ip4`, `ip6` IPv6 `json:$.ip6`, `b` Bool `json:$.b`, ' +
    "`e` Enum8('a' = 1, 'b\\'q' = 2) `json:$.e`, `d` Date `json:$.d`, `d32x` Date32 `json:$.d32x`, `dt` DateTime('UTC') `json:$.dt`, " +
    "`dtl` DateTime `json:$.dtl`, `dt64` DateTime64(3, 'UTC') `json:$.dt64`, `ni` Nullable(Int32) `json:$.ni`, `ndt` Nullable(DateTime('UTC')) `json:$.ndt`, " +
    '`as` Array(String) `json:$.as`, `an` Array(Nullable(Int64)) `json:$.an`, `adt` Array(DateTime(\'UTC\')) `json:$.adt`, `ad` Array(Date) `json:$.ad`, ' +
    "`ab` Array(Bool) `json:$.ab`, `ae` Array(Enum8('x' = 1, 'y' = 2)) `json:$.ae`, `af` Array(Float64) `json:$.af`, `adec` Array(Decimal(10, 2)) `json:$.adec`, " +
    "`alc` Array(LowCardinality(Nullable(String))) `json:$.alc`, `path` String `json:$.p.q[1].r`, `all` Array(String) `json:$.p.q[:].r`, " +
    "`dflt` String `json:$.dflt` DEFAULT 'it''s\\tdef', `dnum` Int32 `json:$.dnum` DEFAULT 42, `dnull` Nullable(String) `json:$.dnull` DEFAULT NULL, " +
    '`darr` Array(UInt8) `json:$.darr` DEFAULT []',
);

const NASTY = ['', '\\N', '\\', 'tab\there', 'nl\nthere', 'cr\rthere', 'nul\u0000x', '\b\f\u0001\u001f', "quote'\"", 'Zoë €😀 \u2028\u2029', '\\t', 'a\\\\b', 'NULL', "'"];

function allTypesRow(k: number): Record<string, unknown> {
  const s = NASTY[k % NASTY.length] as string;
  return {
    k,
    u64: k === 0 ? '18446744073709551615' : k,
    i64: k % 2 === 0 ? '-9223372036854775808' : -k,
    i128: '-170141183460469231731687303715884105728',
    u256: '115792089237316195423570985008687907853269984665640564039457584007913129639935',
    i8: (k % 256) - 128,
    f32: [0.1, -0.25, 1e-7, 3.4e38, 16777217, 1.5][k % 6],
    f64: [0.1, 1e-300, -0, 123456789.123456789, 5e-324, 1.7976931348623157e308][k % 6],
    dec: ['1234567890123456789012345678901.123456', '-0.000001', '0', '12.5', 0.25, '-00012.500000'][k % 6],
    d32: [1, '-1.5', '0.07', 9999999.99][k % 4],
    s,
    sn: k % 3 === 0 ? null : s,
    lc: s,
    lcn: k % 4 === 0 ? null : `lc${s}`,
    fs: ['ab', '', 'abcd', '€'][k % 4],
    u: '123e4567-e89b-12d3-a456-42661417400' + (k % 10),
    ip4: ['10.0.0.1', '255.255.255.255', '0.0.0.0'][k % 3],
    ip6: ['::1', '10.1.2.3', 'fe80::1:2', '::ffff:1.2.3.4'][k % 4],
    b: [true, false, 1, 0, 'true', '0'][k % 6],
    e: ['a', "b'q", 1, 2][k % 4],
    d: ['2024-02-29', 0, '1970-01-01', '2149-06-06', 86400 * 365][k % 5],
    d32x: ['1950-01-01', '2299-12-31', '2024-01-01'][k % 3],
    dt: ['2024-01-02 03:04:05', 5, 0, '2024-01-02T03:04:05Z', 1704164645, '12345', '2024-01-02T05:04:05+02:00', 4294967295, '2024-01-02', 99999][k % 10],
    dtl: ['2024-01-02 03:04:05', 1704164645, 7][k % 3],
    dt64: ['2024-01-02 03:04:05.678', 5, 1704164645.5, '2024-01-02T03:04:05.25Z', '1969-12-31T23:59:59Z'.slice(0, 0) || '2000-01-01'][k % 5],
    ni: k % 2 === 0 ? null : -k,
    ndt: k % 2 === 0 ? null : 12,
    as: [s, 'x', "it's", ''],
    an: [1, null, '-9223372036854775808', 18],
    adt: [5, '2024-01-02 03:04:05', 1704164645],
    ad: ['2024-01-01', 0],
    ab: [true, false],
    ae: ['x', 2],
    af: [0.1, -1e-7, 3],
    adec: ['1.5', 2, '-0.01'],
    alc: [null, s],
    p: { q: [{ r: 'first' }, { r: s }] },
    ...(k % 2 === 0 ? { dflt: s, dnum: k, dnull: s, darr: [k % 256] } : {}),
  };
}

test('TabSeparated: same stored values as JSONEachRow for every type and edge case', async () => {
  const lines: string[] = [];
  for (let k = 0; k < 60; k++) lines.push(JSON.stringify(allTypesRow(k)));
  // exact big numbers (lossless re-parse), bad rows (quarantine), blank and invalid lines
  lines.push(JSON.stringify(allTypesRow(60)).replace('"u64":60', '"u64":18446744073709551615').replace('"k":60', '"k":60.0'));
  lines.push(JSON.stringify({ ...allTypesRow(61), i8: 300 }));
  lines.push('');
  lines.push('not json');
  lines.push(JSON.stringify({ ...allTypesRow(62), s: 12345678901234567890 }).replace('"s":12345678901234567000', '"s":12345678901234567890'));
  const t = await differential(ALL_TYPES, `${lines.join('\n')}\n`, 'k');
  assert.equal(t.goodFormat, 'TabSeparated');
  assert.equal(t.fallbackRows, 0);
  assert.deepEqual(t.errors, [
    "line 61: column 'k': value '60.0' is not a valid UInt32",
    "line 62: column 'i8': value '300' is out of range for Int8",
    'line 64: invalid JSON',
  ]);
  assert.equal(t.goodRows, 61);
  assert.equal(t.quarantineRows, 3);
});

test('TabSeparated: rows leaving a column to its server-side DEFAULT go as JSONEachRow', async () => {
  const cols = parseSchema("`k` UInt32 `json:$.k`, `s` String `json:$.s`, `later` DateTime('UTC') `json:$.later` DEFAULT toDateTime('2001-02-03 04:05:06', 'UTC'), `n` Nullable(Int8) `json:$.n`");
  const body = '{"k":1,"s":"a\\tb","later":"2024-01-01 00:00:00"}\n{"k":2,"s":"","n":3}\n{"k":3,"s":"x","later":null}\n{"k":4,"s":"y","later":5,"n":-1}\n';
  const t = await differential(cols, body, 'k');
  assert.equal(t.goodFormat, 'TabSeparated');
  assert.equal(t.goodRows, 2);
  assert.equal(t.fallbackRows, 2);
  assert.equal(t.good.toString(), '1\ta\\tb\t2024-01-01 00:00:00\t\\N\n4\ty\t0000000005\t-1\n');
});

test('TabSeparated: Map, Tuple and nested arrays keep the data source on JSONEachRow', async () => {
  for (const extra of ['`m` Map(String, UInt64) `json:$.m`', '`tp` Tuple(a String, b UInt8) `json:$.tp`', '`aa` Array(Array(UInt8)) `json:$.aa`']) {
    const cols = parseSchema(`\`k\` UInt32 \`json:$.k\`, ${extra}`);
    const body = '{"k":1,"m":{"a":1},"tp":{"a":"x","b":2},"aa":[[1],[]]}\n';
    const t = await differential(cols, body, 'k');
    assert.equal(t.goodFormat, 'JSONEachRow');
    assert.equal(t.goodRows, 1);
  }
});

test('tsvEscape', () => {
  assert.equal(tsvEscape('plain €'), 'plain €');
  assert.equal(tsvEscape('a\tb\nc\\d\re\u0000f\bg\fh'), 'a\\tb\\nc\\\\d\\re\\0f\\bg\\fh');
});
