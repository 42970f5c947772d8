/**
 * The native NDJSON → TabSeparated encoder (native/ingest/) against the TypeScript
 * one: the same NDJSON (generated lines full of edge cases: escapes, surrogates,
 * duplicate keys, deep nesting, huge numbers, -0, whitespace, BOM, CRLF, empty and
 * invalid lines, random bytes) is encoded with `native: false` and `native: true`, with
 * the same chunking; the quarantine rows and messages must be identical, the good rows
 * identical as multisets, and the rows stored by chdb identical. Also runs the doctest
 * suite of the C++ code (`make -C native/ingest/test run`).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { rng } from '../helpers/rng.js';
import { createTableSql, parseEngineOptions, parseSchema, type ColumnDef } from '../../src/catalog/schema.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { compileColumns, GOOD_FORMAT, type EncodeResult, type EncodeContext } from '../../src/ingest/encode.js';
import { loadIngestAddon, nativeNdjsonTsv } from '../../src/ingest/native.js';
import { projectRoot } from '../../src/compiler/native.js';
import { joinResults } from '../helpers/encode.js';

const ctx: EncodeContext = { importId: 'imp-n', now: new Date('2024-05-01T10:00:00Z') };
const dir = mkdtempSync(join(tmpdir(), 'colibri-ingest-native-'));
const session = new Session(dir);
after(() => {
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

test('doctest suite of the native encoder (make -C native/ingest/test run)', () => {
  const r = spawnSync('make', ['-s', '-C', join(projectRoot(), 'native', 'ingest', 'test'), 'run'], { encoding: 'utf8', timeout: 600000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Status: SUCCESS/);
});

const SCHEMA = parseSchema(
  '`k` UInt32 `json:$.k`, `s` String `json:$.s`, `sn` Nullable(String) `json:$.sn`, `lc` LowCardinality(String) `json:$.p.lc`, ' +
    '`lcn` LowCardinality(Nullable(String)) `json:$.p.q.lcn`, `fs` FixedString(4) `json:$.fs`, `i8` Int8 `json:$.i8`, `u64` UInt64 `json:$.u64`, ' +
    '`i64` Int64 `json:$.i64`, `f32` Float32 `json:$.f32`, `f64` Float64 `json:$.f64`, `b` Bool `json:$.b`, `d` Date `json:$.d`, ' +
    "`d32` Date32 `json:$.d32`, `dt` DateTime('UTC') `json:$.dt`, `dt64` DateTime64(3, 'UTC') `json:$.dt64`, `dt0` DateTime64(0, 'UTC') `json:$.dt0`, " +
    "`u` UUID `json:$.u`, `e` Enum8('a' = 1, 'b\\'q' = 2, 'tab\\there' = -3) `json:$.e`, `ni` Nullable(Int32) `json:$.ni`, " +
    "`dflt` String `json:$.dflt` DEFAULT 'it''s\\tdef', `dnum` Int32 `json:$.dnum` DEFAULT 42, " +
    "`later` DateTime('UTC') `json:$.later` DEFAULT toDateTime('2001-02-03 04:05:06', 'UTC')",
);

const STRINGS = ['"plain"', '""', '"a\\tb"', '"\\u0000x"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\udc00x"', '"é€😀"', '"\\\\N"', '"\\/"', '"\\u2028\\u00e9"',
  '"\\"q\\""', '"\u007f"', '"\\b\\f\\n\\r"', '"\\u001f"', '"abcd"', '"abcde"', '"€"', '"€€"', '"NULL"', '"\\\\"', '"\\u005c"', '"\\u0041"'];
const NUMBERS = ['0', '-0', '1', '-1', '1.0', '1.50', '1e2', '1E-7', '0.000001', '0.0000001', '0.1', '-0.25', '123456789012345', '1234567890123456',
  '9007199254740993', '18446744073709551615', '-9223372036854775808', '9223372036854775807', '1e308', '1e309', '-1e-400', '3.4e38', '3.5e38', '127',
  '128', '-128', '-129', '255', '4294967295', '4294967296', '1704164645', '1704164645.5', '99999999999', '253402300799', '253402300800', '2', '3', '-3',
  '12.340', '100000000000000000000000', '0.30000000000000004', '5e-324'];
const LITERALS = ['true', 'false', 'null', '{}', '{"a":1}', '[]', '[1,"x"]', '{"lc":"in"}'];
const DATES = ['"2024-02-29"', '"2023-02-29"', '"1970-01-01"', '"2149-06-06"', '"2149-06-07"', '"1900-01-01"', '"2299-12-31"', '"0"', '"000000000005"',
  '"86400"', '"2024-01-02 03:04:05"', '"2024-01-02T03:04:05Z"', '"2024-01-02T03:04:05.678Z"', '"2024-01-02T03:04:05.000Z"', '"2024-01-02T03:04:05+02:00"',
  '"2024-01-02T03:04:05-0130"', '"2024-01-02 03:04"', '"2024-01-02Z"', '"0099-01-01T00:00:00Z"', '"1969-12-31T23:59:59Z"', '"2106-02-07 06:28:15"',
  '"2106-02-07T06:28:16Z"', '"5"', '"-0"', '"-5"', '"5.000"', '"5.5"', '"2024-01-02 03:04:05.123456789"', '"2024-01-02 03:04:05.1234567890"',
  '"2024-13-01"', '"2024-01-02 24:00:00"', '"2024-01-02T03:04:05+14:01"', '"2024-01-02T03:04:05+1400"', '"1950-06-01 00:00:00"', '"2200-01-01 00:00:00"',
  '"2024-01-02 03:04:05+05"', '"2024-01-02t03:04:05"', '"9999999999"', '"10000000000.5"'];
const INT_STRINGS = ['"+5"', '"-0"', '"007"', '"123456789012345678"', '"1234567890123456789"', '"1.5"', '""', '" 5"', '"-128"', '"+"'];
const BOOLS = ['"TRUE"', '"False"', '"1"', '"0"', '"yes"', '"true "'];
const UUIDS = ['"123e4567-e89b-12d3-a456-426614174000"', '"123E4567-E89B-12D3-A456-42661417400F"', '"123e4567e89b12d3a456426614174000"', '"123e4567-e89b-12d3-a456-42661417400g"'];
const ENUMS = ['"a"', '"b\'q"', '"tab\\there"', '"c"', '1', '2', '-3', '3', '1.0', '"1"'];
const ALL = [...STRINGS, ...NUMBERS, ...LITERALS, ...DATES, ...INT_STRINGS, ...BOOLS, ...UUIDS, ...ENUMS];

const GOOD: Record<string, string[]> = {
  k: ['0', '1', '4294967295'], s: STRINGS, sn: [...STRINGS, 'null'], fs: STRINGS, i8: ['0', '-128', '127', '"+5"', '-0'],
  u64: ['0', '18446744073709551615', '123456789012345', '"123456789012345678"'], i64: ['-9223372036854775808', '-1', '"-0"', '9223372036854775807'],
  f32: NUMBERS, f64: NUMBERS, b: [...BOOLS, 'true', 'false', '0', '1'], d: DATES, d32: DATES, dt: [...DATES, ...NUMBERS], dt64: [...DATES, ...NUMBERS],
  dt0: DATES, u: UUIDS, e: ENUMS, ni: ['null', '1', '-2147483648', '2147483648'], dflt: STRINGS, dnum: NUMBERS, later: DATES,
};

/** Values each column accepts (most lines are made of these, so that many rows are good). */
const VALID: Record<string, string[]> = {
  k: [], s: STRINGS, sn: [...STRINGS, 'null'], fs: ['"ab"', '""', '"abcd"', '"€"', '"a\\tb"', '"\\ud83d\\ude00"'], i8: ['0', '-128', '127', '"+5"', '-0', '"-0"'],
  u64: ['0', '18446744073709551615', '123456789012345', '"123456789012345678"'], i64: ['-9223372036854775808', '-1', '"-0"', '9223372036854775807'],
  f32: ['0', '-0', '0.1', '-0.25', '12.340', '1.0', '1e2', '3.4e38'], f64: ['0.1', '1e308', '5e-324', '0.30000000000000004', '-0', '123456789012345', '1234567890123456'],
  b: [...BOOLS.slice(0, 4), 'true', 'false', '0', '1'], d: ['"2024-02-29"', '"1970-01-01"', '"2149-06-06"', '"86400"', '0', '86400', '"000000000005"'],
  d32: ['"1900-01-01"', '"2299-12-31"', '"2024-02-29"', '0'], dt: ['"2024-01-02 03:04:05"', '"2024-01-02T03:04:05Z"', '"2024-01-02T03:04:05+02:00"', '5', '0', '-0', '1704164645', '"5"', '"5.000"', '"2024-01-02"', '4294967295'],
  dt64: ['"2024-01-02 03:04:05.678"', '"2024-01-02T03:04:05.25Z"', '5', '1704164645.5', '"1950-06-01 00:00:00"', '"5.5"', '"2024-01-02 03:04:05.123456789"'],
  dt0: ['"2024-01-02 03:04:05.678"', '"2024-01-02T03:04:05.25Z"', '"0"'], u: UUIDS.slice(0, 2), e: ['"a"', '"b\'q"', '"tab\\there"', '1', '2', '-3'],
  ni: ['null', '1', '-2147483648'], dflt: STRINGS, dnum: ['1', '-5'], later: ['"2024-01-02 03:04:05"', '"2024-01-02 03:04:05"', '"2024-01-02 03:04:05"', 'null'],
};

function ws(r: () => number): string {
  const x = r();
  return x < 0.85 ? '' : x < 0.9 ? ' ' : x < 0.95 ? '\t ' : '\r';
}

function line(r: () => number, k: number): string {
  const parts: string[] = [];
  const keys = Object.keys(GOOD);
  for (const key of keys) {
    const x = r();
    if (x < 0.01 && key !== 'k') continue;
    const pool = x < 0.97 || key === 'k' ? (VALID[key] as string[]) : x < 0.985 ? (GOOD[key] as string[]) : ALL;
    const v = key === 'k' ? String(k) : (pool[Math.floor(r() * pool.length)] as string);
    if (r() < 0.05) parts.push(`"${key}"${ws(r)}:${ws(r)}${ALL[Math.floor(r() * ALL.length)]}`); // duplicate: the later one wins
    parts.push(`${ws(r)}"${key}"${ws(r)}:${ws(r)}${v}${ws(r)}`);
  }
  const p = r();
  const lc = STRINGS[Math.floor(r() * STRINGS.length)] as string;
  const lcn = r() < 0.2 ? 'null' : (STRINGS[Math.floor(r() * STRINGS.length)] as string);
  if (p < 0.8) parts.push(`"p":{"x":[1,{"lc":"no"}],"lc":${lc},"q":{"lcn":${lcn}}}`);
  else if (p < 0.85) parts.push(`"p":{"lc":"first","q":{"lcn":"first"}},"p":{"lc":${lc}}`);
  else if (p < 0.9) parts.push(`"p":${ALL[Math.floor(r() * ALL.length)]}`);
  else if (p < 0.95) parts.push(`"p":{"lc":${lc}},"extra":${'['.repeat(300)}${']'.repeat(300)}`);
  else parts.push(`"p":{"lc":${lc},"q":{"lcn":${lcn},"deep":${'{"a":'.repeat(20)}1${'}'.repeat(20)}}}`);
  if (r() < 0.5) parts.sort(() => r() - 0.5);
  let text = `{${parts.join(',')}}`;
  const m = r();
  if (m < 0.03) text = text.slice(0, Math.floor(r() * text.length));
  else if (m < 0.05) text = `${text.slice(0, Math.floor(r() * text.length))}${'\x01{}"\\,:'[Math.floor(r() * 8)]}${text.slice(Math.floor(r() * text.length))}`;
  else if (m < 0.06) text = `${text} x`;
  else if (m < 0.07) text = `[${text}]`;
  return text;
}

/** The NDJSON body: generated lines with empty, blank, CRLF and random-byte lines. */
function body(seed: number, rows: number): Buffer {
  const r = rng(seed);
  const out: Buffer[] = [Buffer.from(seed % 2 === 0 ? '\ufeff' : '')];
  for (let k = 0; k < rows; k++) {
    const x = r();
    if (x < 0.02) out.push(Buffer.from('\n'));
    else if (x < 0.03) out.push(Buffer.from(' \t\r\n'));
    else if (x < 0.04) out.push(Buffer.from(Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * 256)).filter((b) => b !== 10)), Buffer.from('\n'));
    else if (x < 0.05) {
      // invalid UTF-8 inside a string value
      out.push(Buffer.from(`{"k":${k},"s":"a`), Buffer.from([0xff, 0xc3]), Buffer.from(`b","dt":5,"u":${UUIDS[0]},"i8":1,"u64":1,"i64":1,"f32":1,"f64":1,"b":true,"d":0,"d32":0,"dt64":0,"dt0":0,"e":1,"fs":"","p":{"lc":""}}\n`));
    } else out.push(Buffer.from(`${line(r, k)}${r() < 0.1 ? '\r' : ''}\n`));
  }
  if (r() < 0.5) out.push(Buffer.from(line(r, rows)));
  return Buffer.concat(out);
}

function encode(cols: ColumnDef[], data: Buffer, cuts: number[], native: boolean, maxLineBytes?: number): EncodeResult {
  const e = createNdjsonEncoder(cols, { ...ctx, ...(maxLineBytes === undefined ? {} : { maxLineBytes }) }, { format: 'TabSeparated', native });
  const parts: EncodeResult[] = [];
  let at = 0;
  for (const c of [...cuts, data.length]) {
    parts.push(e.push(data.subarray(at, c)));
    at = c;
  }
  parts.push(e.end());
  return joinResults(parts);
}

const sortedLines = (b: Buffer): string[] => b.toString().split('\n').filter((l) => l !== '').sort();

let tableNo = 0;
async function stored(cols: ColumnDef[], r: EncodeResult): Promise<string[]> {
  const t = `t${++tableNo}`;
  await session.queryAsync('CREATE DATABASE IF NOT EXISTS n');
  await session.queryAsync(createTableSql('n', t, cols, parseEngineOptions({ engine_sorting_key: 'tuple()' })));
  if (r.goodRows > 0) await session.insert({ table: `n.${t}`, values: r.good, format: r.goodFormat });
  // Rows holding a lone surrogate included: it is written as U+FFFD (ingest/json.ts
  // jsonString), never as the `\ud83d` escape ClickHouse refuses.
  if (r.fallbackRows > 0) await session.insert({ table: `n.${t}`, values: r.fallback, format: GOOD_FORMAT });
  const res = await session.queryAsync(`SELECT * FROM n.${t}`, { format: 'JSONEachRow' });
  return res.text().split('\n').filter((l) => l !== '').sort();
}

function compare(ts: EncodeResult, nat: EncodeResult, what: string): void {
  assert.equal(nat.goodFormat, 'TabSeparated', what);
  assert.equal(nat.goodRows, ts.goodRows, what);
  assert.equal(nat.fallbackRows, ts.fallbackRows, what);
  assert.equal(nat.quarantineRows, ts.quarantineRows, what);
  assert.equal(nat.quarantine.toString(), ts.quarantine.toString(), what);
  assert.deepEqual(nat.errors, ts.errors, what);
  assert.deepEqual(sortedLines(nat.good), sortedLines(ts.good), what);
  assert.deepEqual(sortedLines(nat.fallback), sortedLines(ts.fallback), what);
}

test('the native encoder is built and supports the differential schema', () => {
  assert.notEqual(loadIngestAddon(), null, 'native/build/Release/colibri_ingest.node is not built');
  assert.notEqual(nativeNdjsonTsv(SCHEMA, compileColumns(SCHEMA), 10 * 1024 * 1024), null);
});

test('native + fallback: same good rows, quarantine rows, messages and stored rows as the TypeScript encoder', async () => {
  let good = 0;
  let bad = 0;
  let nativeGood = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const data = body(seed, 400);
    const r = rng(seed * 7);
    const cuts = Array.from({ length: seed % 4 === 0 ? 0 : 1 + Math.floor(r() * 6) }, () => Math.floor(r() * data.length)).sort((a, b) => a - b);
    if (seed === 3) for (let i = 1; i < 200; i++) cuts.push(i); // tiny chunks at the start (BOM split)
    cuts.sort((a, b) => a - b);
    const ts = encode(SCHEMA, data, cuts, false);
    const nat = encode(SCHEMA, data, cuts, true);
    compare(ts, nat, `seed ${seed}`);
    if (seed <= 4) assert.deepEqual(await stored(SCHEMA, nat), await stored(SCHEMA, ts), `seed ${seed}: stored rows`);
    nativeGood += (nativeNdjsonTsv(SCHEMA, compileColumns(SCHEMA), 10 * 1024 * 1024) as NonNullable<ReturnType<typeof nativeNdjsonTsv>>).encode(data, true)[1];
    good += ts.goodRows;
    bad += ts.quarantineRows;
  }
  // The corpus exercises both outcomes substantially.
  assert.ok(good > 500, `good rows: ${good}`);
  // ...and good rows were written by the native encoder too (the corpus is edge-heavy:
  // most lines hold some value it hands back).
  assert.ok(nativeGood > 50, `native good rows: ${nativeGood} of ${good}`);
  assert.ok(bad > 1000, `quarantined rows: ${bad}`);
});

test('native + fallback: every value of the pools in every column, one per line', async () => {
  const lines: string[] = [];
  let k = 0;
  for (const key of Object.keys(GOOD)) {
    for (const v of ALL) {
      const row: string[] = [];
      for (const other of Object.keys(GOOD)) {
        if (other === 'k') row.push(`"k":${k++}`);
        else row.push(`"${other}":${other === key ? v : (GOOD[other] as string[])[0]}`);
      }
      lines.push(`{${row.join(',')},"p":{"lc":"x"}}`);
    }
  }
  const data = Buffer.from(`${lines.join('\n')}\n`);
  const ts = encode(SCHEMA, data, [], false);
  const nat = encode(SCHEMA, data, [], true);
  compare(ts, nat, 'pools');
  assert.deepEqual(await stored(SCHEMA, nat), await stored(SCHEMA, ts));
});

test('native + fallback: over-long lines across chunks (maxLineBytes)', () => {
  const long = `{"k":1,"s":"${'é'.repeat(150)}","p":{"lc":""}}`;
  const ascii = `{"k":2,"s":"${'x'.repeat(250)}","p":{"lc":""}}`;
  const data = Buffer.from(`\ufeff${ascii}\n${long}\n{"k":3}\n${ascii}\n${long}`);
  for (let step = 7; step < 400; step += 37) {
    const cuts: number[] = [];
    for (let c = step; c < data.length; c += step) cuts.push(c);
    for (const max of [200, 300, 500]) compare(encode(SCHEMA, data, cuts, false, max), encode(SCHEMA, data, cuts, true, max), `step ${step} max ${max}`);
  }
});

test('schemas the native encoder does not support stay on the TypeScript path', () => {
  for (const extra of ['`m` Map(String, UInt64) `json:$.m`', '`a` Array(String) `json:$.a`', '`x` Int128 `json:$.x`', '`y` String `json:$.y[0]`', '`z` Decimal(10, 2) `json:$.z`']) {
    const cols = parseSchema(`\`k\` UInt32 \`json:$.k\`, ${extra}`);
    assert.equal(nativeNdjsonTsv(cols, compileColumns(cols), 1024), null, extra);
  }
});
