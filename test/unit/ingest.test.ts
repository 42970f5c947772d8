import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createQuarantineTableSql, createTableSql, parseEngineOptions, parseSchema, type ColumnDef } from '../../src/catalog/schema.js';
import { compileColumn, INEXACT, OMIT, serverDefaultColumns, ValueError } from '../../src/ingest/types.js';
import { compileJsonPath } from '../../src/ingest/jsonpath.js';
import { createNdjsonEncoder } from '../../src/ingest/ndjson.js';
import { createCsvEncoder } from '../../src/ingest/csv.js';
import { GOOD_FORMAT, QUARANTINE_FORMAT, type EncodeResult, type Encoder } from '../../src/ingest/encode.js';

const ctx = { importId: 'imp-1', now: new Date('2024-05-01T10:00:00Z') };

function col(type: string, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name: 'c', type, jsonpath: null, defaultExpr: null, ...extra };
}
function enc(type: string, v: unknown): string {
  const r = compileColumn(col(type)).encodeJson(v);
  if (r instanceof ValueError) return `ERR ${r.message}`;
  return r;
}
function txt(type: string, v: string): string {
  const r = compileColumn(col(type)).encodeText(v);
  if (r instanceof ValueError) return `ERR ${r.message}`;
  return r;
}

test('integers: ranges, 64-bit and wider precision, text', () => {
  assert.equal(enc('Int32', 5), '5');
  assert.equal(enc('Int32', 'abc'), "ERR value 'abc' is not a valid Int32");
  assert.equal(enc('UInt8', 256), "ERR value '256' is out of range for UInt8");
  assert.equal(enc('UInt8', -1), "ERR value '-1' is out of range for UInt8");
  assert.equal(enc('Int8', -128), '-128');
  assert.equal(enc('Int32', 1.5), "ERR value '1.5' is not a valid Int32");
  assert.equal(enc('UInt64', 2 ** 60), `ERR ${INEXACT.message}`);
  assert.equal(enc('UInt64', '18446744073709551615'), '18446744073709551615');
  assert.equal(enc('UInt64', '18446744073709551616'), "ERR value '18446744073709551616' is out of range for UInt64");
  assert.equal(enc('Int64', '-9223372036854775808'), '-9223372036854775808');
  assert.equal(enc('Int128', '-170141183460469231731687303715884105728'), '-170141183460469231731687303715884105728');
  assert.equal(enc('UInt256', '1' + '0'.repeat(78)), `ERR value '1${'0'.repeat(78)}' is out of range for UInt256`);
  assert.equal(txt('Int16', '+7'), '7');
  assert.equal(txt('Int16', ' 7'), "ERR value ' 7' is not a valid Int16");
  assert.equal(txt('Int16', ''), "ERR value '' is not a valid Int16");
});

test('floats and decimals', () => {
  assert.equal(enc('Float64', 0.1), '0.1');
  assert.equal(enc('Float32', 1e39), "ERR value '1e+39' is out of range for Float32");
  assert.equal(txt('Float64', '1e3'), '1000');
  assert.equal(txt('Float64', 'nan'), "ERR value 'nan' is not a valid Float64");
  assert.equal(enc('Decimal(10, 2)', 12.5), '12.5');
  assert.equal(enc('Decimal(10, 2)', '-0012.50'), '-12.50');
  assert.equal(enc('Decimal(10, 2)', '1.234'), "ERR value '1.234' has more than 2 decimal places for Decimal(10, 2)");
  assert.equal(enc('Decimal(10, 2)', '1.2300'), '1.23');
  assert.equal(enc('Decimal(4, 2)', '123.4'), "ERR value '123.4' is out of range for Decimal(4, 2)");
  assert.equal(enc('Decimal(30, 4)', 1234567890123456.7), `ERR ${INEXACT.message}`);
  assert.equal(enc('Decimal64(2)', '.5'), '0.5');
  assert.equal(enc('Decimal64(2)', '.'), "ERR value '.' is not a valid Decimal64");
});

test('strings, FixedString, UUID, IPs, Bool, Enum', () => {
  assert.equal(enc('String', 'a"b\n'), '"a\\"b\\n"');
  assert.equal(enc('String', { x: [1] }), '"{\\"x\\":[1]}"');
  assert.equal(enc('String', 12), '"12"');
  assert.equal(enc('FixedString(3)', 'abc'), '"abc"');
  assert.equal(enc('FixedString(3)', 'ab€'), "ERR value 'ab€' is longer than 3 bytes for FixedString(3)");
  assert.equal(enc('UUID', '123e4567-e89b-12d3-a456-426614174000'), '"123e4567-e89b-12d3-a456-426614174000"');
  assert.equal(enc('UUID', '123e4567'), "ERR value '123e4567' is not a valid UUID");
  assert.equal(enc('IPv4', '10.0.0.1'), '"10.0.0.1"');
  assert.equal(enc('IPv4', '10.0.0.256'), "ERR value '10.0.0.256' is not a valid IPv4");
  assert.equal(enc('IPv6', '::1'), '"::1"');
  assert.equal(enc('IPv6', 'fe80::1%eth0'), "ERR value 'fe80::1%eth0' is not a valid IPv6");
  assert.equal(enc('Bool', true), 'true');
  assert.equal(txt('Bool', '0'), 'false');
  assert.equal(txt('Bool', 'yes'), "ERR value 'yes' is not a valid Bool");
  assert.equal(enc("Enum8('a' = 1, 'b' = 2)", 'b'), '"b"');
  assert.equal(enc("Enum8('a' = 1, 'b' = 2)", 1), '"a"');
  assert.equal(txt("Enum8('a' = 1, 'b' = 2)", '2'), '"b"');
  assert.equal(enc("Enum8('a' = 1, 'b' = 2)", 'c'), "ERR value 'c' is not one of the values of Enum8('a' = 1, 'b' = 2)");
});

test('dates and times', () => {
  assert.equal(enc('Date', '2024-02-29'), '"2024-02-29"');
  assert.equal(enc('Date', '2023-02-29'), "ERR value '2023-02-29' is not a valid Date");
  assert.equal(enc('Date', '1969-12-31'), "ERR value '1969-12-31' is out of range for Date");
  assert.equal(enc('Date', 86400), '"1970-01-02"');
  assert.equal(enc('Date32', '1950-01-01'), '"1950-01-01"');
  assert.equal(enc('DateTime', '2024-01-02 03:04:05'), '"2024-01-02 03:04:05"');
  assert.equal(enc('DateTime', '2024-01-02T03:04:05'), '"2024-01-02 03:04:05"');
  assert.equal(enc('DateTime', '2024-01-02T03:04:05Z'), '1704164645');
  assert.equal(enc('DateTime', '2024-01-02T05:04:05+02:00'), '1704164645');
  assert.equal(enc('DateTime', 1704164645), '1704164645');
  assert.equal(enc('DateTime', '1704164645'), '1704164645');
  assert.equal(enc('DateTime', 1.5), "ERR value '1.5' is not a valid DateTime");
  assert.equal(enc('DateTime', -1), "ERR value '-1' is out of range for DateTime");
  assert.equal(enc('DateTime', '2024-13-01 00:00:00'), "ERR value '2024-13-01 00:00:00' is not a valid DateTime");
  assert.equal(enc('DateTime', '2024-01-01 24:00:00'), "ERR value '2024-01-01 24:00:00' is not a valid DateTime");
  assert.equal(enc("DateTime('UTC')", '2024-01-02'), '"2024-01-02 00:00:00"');
  assert.equal(enc('DateTime64(3)', '2024-01-02 03:04:05.123456'), '"2024-01-02 03:04:05.123"');
  assert.equal(enc('DateTime64(3)', '2024-01-02 03:04:05'), '"2024-01-02 03:04:05.000"');
  assert.equal(enc('DateTime64(3)', 1704164645.5), '"1704164645.500"');
  assert.equal(enc('DateTime64(3)', 5), '"0000000005.000"');
  assert.equal(enc('DateTime64(3)', '1969-12-31T23:59:59Z'), "ERR value '1969-12-31T23:59:59Z' is out of range for DateTime64(3)");
  assert.equal(enc('DateTime', 5), '5');
  assert.equal(enc('DateTime64(3)', '2024-01-02T03:04:05.25Z'), '"1704164645.250"');
  assert.equal(enc('DateTime', 'yesterday'), "ERR value 'yesterday' is not a valid DateTime");
});

test('Nullable, LowCardinality, Array, Map, Tuple', () => {
  assert.equal(enc('Nullable(Int32)', null), 'null');
  assert.equal(txt('Nullable(Int32)', ''), 'null');
  assert.equal(txt('Nullable(String)', '\\N'), 'null');
  assert.equal(enc('LowCardinality(String)', 'x'), '"x"');
  assert.equal(enc('Array(Nullable(Int8))', [1, null, 3]), '[1,null,3]');
  assert.equal(enc('Array(Int8)', [1, null]), "ERR value 'null' is not a valid Int8");
  assert.equal(enc('Array(Int8)', [1, 300]), "ERR value '300' is out of range for Int8");
  assert.equal(txt('Array(String)', "['a','b''c']"), '["a","b\'c"]');
  assert.equal(txt('Array(String)', "['a'"), "ERR value '['a'' is not a valid Array(String)");
  assert.equal(txt('Array(String)', "['a','b\\'c']"), '["a","b\'c"]');
  assert.equal(txt('Array(UInt64)', '[18446744073709551615]'), '[18446744073709551615]');
  assert.equal(enc('Array(Array(UInt8))', [[1], []]), '[[1],[]]');
  assert.equal(enc('Map(String, UInt64)', { a: 1, __proto__x: 2 }), '{"a":1,"__proto__x":2}');
  assert.equal(enc('Map(UInt8, String)', { 1: 'x' }), '{"1":"x"}');
  assert.equal(enc('Map(UInt8, String)', { a: 'x' }), "ERR value 'a' is not a valid UInt8");
  assert.equal(enc('Tuple(String, UInt8)', ['x', 3]), '["x",3]');
  assert.equal(enc('Tuple(a String, b UInt8)', { b: 3, a: 'x' }), '{"a":"x","b":3}');
  assert.equal(enc('Tuple(a String, b UInt8)', ['x', 3]), '{"a":"x","b":3}');
  assert.equal(enc('Tuple(String, UInt8)', ['x']), "ERR value '[\"x\"]' is not a valid Tuple(String, UInt8)");
});

test('missing values: literal DEFAULT, server DEFAULT, Nullable, quarantine', () => {
  assert.equal(compileColumn(col('Int32', { defaultExpr: '7' })).missing, '7');
  assert.equal(compileColumn(col('String', { defaultExpr: "'it''s'" })).missing, '"it\'s"');
  assert.equal(compileColumn(col('DateTime', { defaultExpr: 'now()' })).missing, OMIT);
  assert.equal(compileColumn(col('Nullable(Int32)')).missing, 'null');
  const m = compileColumn(col('Int32')).missing;
  assert.ok(m instanceof ValueError && /missing/.test(m.message));
  assert.deepEqual(serverDefaultColumns([col('DateTime', { defaultExpr: 'now()' }), col('Int32', { name: 'x', defaultExpr: '1' })]), ['c']);
  assert.equal(compileColumn(col('Int32', { defaultExpr: '7' })).encodeText(''), '7');
});

test('jsonpath extraction', () => {
  const o = JSON.parse('{"a":{"b":[{"c":1},{"c":2},{}]},"x y":3,"__proto__":{"p":1}}') as unknown;
  assert.deepEqual(compileJsonPath('$.a.b[:].c').extract(o), [1, 2, undefined]);
  assert.equal(compileJsonPath('$.a.b[1].c').extract(o), 2);
  assert.equal(compileJsonPath("$['x y']").extract(o), 3);
  assert.deepEqual(compileJsonPath('$.__proto__').extract(o), { p: 1 });
  assert.equal(compileJsonPath('$.constructor').extract(o), undefined);
  assert.equal(compileJsonPath('$.a.b.c').extract(o), undefined);
  assert.throws(() => compileJsonPath('$..a'), /expected a key/);
});

const COLUMNS = parseSchema(
  '`id` UInt64 `json:$.id`, `name` String `json:$.user.name`, `n` Nullable(Int32) `json:$.n`, `tags` Array(String) `json:$.tags[:]`, ' +
    "`ts` DateTime `json:$.ts`, `price` Decimal(18, 4) `json:$.price`, `kind` Enum8('a' = 1, 'b' = 2) `json:$.kind` DEFAULT 'a'",
);

function runAll(e: Encoder, chunks: Buffer[]): EncodeResult {
  const parts: EncodeResult[] = chunks.map((c) => e.push(c));
  parts.push(e.end());
  return {
    good: Buffer.concat(parts.map((p) => p.good)),
    goodRows: parts.reduce((a, p) => a + p.goodRows, 0),
    goodFormat: parts[0]?.goodFormat ?? 'JSONEachRow',
    fallback: Buffer.concat(parts.map((p) => p.fallback)),
    fallbackRows: parts.reduce((a, p) => a + p.fallbackRows, 0),
    quarantine: Buffer.concat(parts.map((p) => p.quarantine)),
    quarantineRows: parts.reduce((a, p) => a + p.quarantineRows, 0),
    errors: parts.flatMap((p) => p.errors),
  };
}

const NDJSON_SAMPLE =
  '\uFEFF{"id":18446744073709551615,"user":{"name":"Zoë \\"q\\""},"n":null,"tags":["a","b"],"ts":"2024-01-02 03:04:05","price":12345678901234.5678}\r\n' +
  '\n' +
  '{"id":2,"user":{"name":"x"},"n":"abc","tags":[],"ts":1704164645,"price":1,"kind":"b"}\n' +
  'not json\n' +
  '[1,2]\n' +
  '{"id":3,"user":{"name":"€"},"tags":["c"],"ts":"2024-01-02T03:04:05Z","price":"0.5"}';

test('NDJSON encoder: good rows, quarantine with reasons, exact big numbers', () => {
  const r = runAll(createNdjsonEncoder(COLUMNS, ctx), [Buffer.from(NDJSON_SAMPLE)]);
  assert.equal(r.goodRows, 2);
  assert.equal(r.quarantineRows, 3);
  assert.equal(
    r.good.toString(),
    '{"id":18446744073709551615,"name":"Zoë \\"q\\"","n":null,"tags":["a","b"],"ts":"2024-01-02 03:04:05","price":12345678901234.5678,"kind":"a"}\n' +
      '{"id":3,"name":"€","n":null,"tags":["c"],"ts":1704164645,"price":0.5,"kind":"a"}\n',
  );
  const q = r.quarantine.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(q[0], {
    c__error_column: ['n'],
    c__error: ["column 'n': value 'abc' is not a valid Int32"],
    c__import_id: 'imp-1',
    id: '2', name: 'x', n: 'abc', tags: '[]', ts: '1704164645', price: '1', kind: 'b',
    insertion_date: '1714557600',
  });
  assert.deepEqual(q[1]?.c__error, ['invalid JSON', 'not json']);
  assert.equal(q[1]?.id, null);
  assert.deepEqual(q[2]?.c__error, ['the line is not a JSON object', '[1,2]']);
  assert.deepEqual(r.errors, ["line 3: column 'n': value 'abc' is not a valid Int32", 'line 4: invalid JSON', 'line 5: the line is not a JSON object']);
  assert.equal(GOOD_FORMAT, 'JSONEachRow');
  assert.equal(QUARANTINE_FORMAT, 'JSONEachRow');
});

test('NDJSON encoder: same output for every split point', () => {
  const whole = Buffer.from(NDJSON_SAMPLE);
  const ref = runAll(createNdjsonEncoder(COLUMNS, ctx), [whole]);
  for (let k = 0; k <= whole.length; k++) {
    const r = runAll(createNdjsonEncoder(COLUMNS, ctx), [whole.subarray(0, k), whole.subarray(k)]);
    assert.equal(r.good.toString(), ref.good.toString(), `split at ${k}`);
    assert.equal(r.quarantine.toString(), ref.quarantine.toString(), `split at ${k}`);
    assert.equal(r.goodRows + r.quarantineRows, 5);
  }
  const bytes = Array.from(whole, (b) => Buffer.from([b]));
  const r1 = runAll(createNdjsonEncoder(COLUMNS, ctx), bytes);
  assert.equal(r1.good.toString(), ref.good.toString());
  assert.equal(r1.quarantine.toString(), ref.quarantine.toString());
});

test('NDJSON encoder: over-long lines are quarantined, never dropped', () => {
  const cols = parseSchema('a String');
  const e = createNdjsonEncoder(cols, { ...ctx, maxLineBytes: 100 });
  const long = `{"a":"${'x'.repeat(500)}"}`;
  const r = runAll(e, [Buffer.from(`{"a":"ok"}\n${long.slice(0, 250)}`), Buffer.from(`${long.slice(250)}\n{"a":"ok2"}\n${long}`)]);
  assert.equal(r.goodRows, 2);
  assert.equal(r.quarantineRows, 2);
  assert.match(r.errors[0] ?? '', /line 2: the line is longer than 100 bytes/);
});

const CSV_COLUMNS = parseSchema("id UInt32, name String, n Nullable(Int32), tags Array(String), d Date DEFAULT '2000-01-01'");
const CSV_SAMPLE =
  '\uFEFFid,name,n,tags,d\r\n' +
  '1,"multi\r\nline, ""quoted""",,"[\'a\',\'b\']",2024-01-02\r\n' +
  '\r\n' +
  '2,x,5,[],\n' +
  'x,y,z,[],2024-01-01\n' +
  '3,too,few\n' +
  '4,"bad"quote,1,[],2024-01-01\n' +
  '5,"€",,[],2024-01-03';

test('CSV encoder: header auto, quoting, CRLF, defaults, quarantine', () => {
  const r = runAll(createCsvEncoder(CSV_COLUMNS, ctx, { header: 'auto' }), [Buffer.from(CSV_SAMPLE)]);
  assert.equal(r.good.toString(),
    '{"id":1,"name":"multi\\r\\nline, \\"quoted\\"","n":null,"tags":["a","b"],"d":"2024-01-02"}\n' +
      '{"id":2,"name":"x","n":5,"tags":[],"d":"2000-01-01"}\n' +
      '{"id":5,"name":"€","n":null,"tags":[],"d":"2024-01-03"}\n');
  assert.equal(r.goodRows, 3);
  assert.equal(r.quarantineRows, 3);
  const q = r.quarantine.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(q[0]?.c__error_column, ['id', 'n']);
  assert.deepEqual(q[0]?.c__error, ["column 'id': value 'x' is not a valid UInt32", "column 'n': value 'z' is not a valid Int32"]);
  assert.equal(q[0]?.name, 'y');
  assert.deepEqual(q[1]?.c__error, ['expected 5 fields, got 3']);
  assert.equal(q[1]?.name, 'too');
  assert.deepEqual(q[2]?.c__error, ['malformed CSV quoting', '4,"bad"quote,1,[],2024-01-01']);
});

test('CSV encoder: same output for every split point; header false and delimiter', () => {
  const whole = Buffer.from(CSV_SAMPLE);
  const ref = runAll(createCsvEncoder(CSV_COLUMNS, ctx), [whole]);
  for (let k = 0; k <= whole.length; k++) {
    const r = runAll(createCsvEncoder(CSV_COLUMNS, ctx), [whole.subarray(0, k), whole.subarray(k)]);
    assert.equal(r.good.toString(), ref.good.toString(), `split at ${k}`);
    assert.equal(r.quarantine.toString(), ref.quarantine.toString(), `split at ${k}`);
  }
  const r1 = runAll(createCsvEncoder(CSV_COLUMNS, ctx), Array.from(whole, (b) => Buffer.from([b])));
  assert.equal(r1.good.toString(), ref.good.toString());
  const noHeader = runAll(createCsvEncoder(CSV_COLUMNS, ctx, { header: false }), [Buffer.from('id,name,n,tags,d\n')]);
  assert.equal(noHeader.quarantineRows, 1);
  const tabs = runAll(createCsvEncoder(parseSchema('a UInt8, b String'), ctx, { delimiter: '\t' }), [Buffer.from('1\ta,b\n')]);
  assert.equal(tabs.good.toString(), '{"a":1,"b":"a,b"}\n');
  const open = runAll(createCsvEncoder(parseSchema('a UInt8, b String'), ctx), [Buffer.from('1,"never closed\n2,x')]);
  assert.equal(open.quarantineRows, 1);
  assert.deepEqual(open.errors, ['line 1: unterminated quoted field']);
});

// ---- round trip through ClickHouse ----
const dir = mkdtempSync(join(tmpdir(), 'colibri-ingest-'));
const session = new Session(dir);
after(() => {
  session.cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

async function rows(sql: string): Promise<string[]> {
  const r = await session.queryAsync(sql, { format: 'JSONEachRow' });
  return r.text().trim().split('\n').filter((l) => l !== '');
}

test('round trip through chdb: good and quarantine payloads insert exactly', async () => {
  const cols = parseSchema(
    '`id` UInt64 `json:$.id`, `i128` Int128 `json:$.i128`, `name` String `json:$.user.name`, `n` Nullable(Int32) `json:$.n`, ' +
      "`tags` Array(Nullable(String)) `json:$.tags[:]`, `ts` DateTime('UTC') `json:$.ts`, `t64` DateTime64(3, 'UTC') `json:$.t64`, " +
      "`price` Decimal(38, 4) `json:$.price`, `kind` Enum8('a' = 1, 'b' = 2) `json:$.kind` DEFAULT 'b', `u` UUID `json:$.u`, " +
      "`ip` IPv6 `json:$.ip`, `ok` Bool `json:$.ok`, `m` Map(String, UInt64) `json:$.m`, `tp` Tuple(a String, b UInt8) `json:$.tp`, " +
      "`fs` FixedString(2) `json:$.fs`, `f` Float32 `json:$.f`, `d` Date `json:$.d`, `later` DateTime('UTC') `json:$.later` DEFAULT toDateTime('2001-02-03 04:05:06', 'UTC')",
  );
  await session.queryAsync('CREATE DATABASE IF NOT EXISTS rt');
  await session.queryAsync(createTableSql('rt', 'ds', cols, parseEngineOptions({ engine_sorting_key: 'id' })));
  await session.queryAsync(createQuarantineTableSql('rt', 'ds_quarantine', cols));
  const body =
    '{"id":18446744073709551615,"i128":-170141183460469231731687303715884105728,"user":{"name":"a\\u0000\\"\\\\😀"},"n":null,"tags":["x",null],' +
    '"ts":"2024-01-02T03:04:05Z","t64":"2024-01-02 03:04:05.678","price":"1234567890123456789012345678901234.5678","u":"123e4567-e89b-12d3-a456-426614174000",' +
    '"ip":"10.1.2.3","ok":true,"m":{"k":18446744073709551615},"tp":{"a":"s","b":7},"fs":"ab","f":1.5,"d":"2024-02-29"}\n' +
    '{"id":1,"i128":0,"user":{"name":""},"n":5,"tags":[],"ts":0,"t64":1704164645.5,"price":0,"kind":"a","u":"00000000-0000-0000-0000-000000000000",' +
    '"ip":"::1","ok":false,"m":{},"tp":["",0],"fs":"","f":-0.25,"d":"1970-01-01","later":"2024-01-01 00:00:00"}\n' +
    '{"id":-1,"user":{"name":"bad"}}\n';
  const r = runAll(createNdjsonEncoder(cols, ctx), [Buffer.from(body)]);
  assert.equal(r.goodRows, 2);
  assert.equal(r.quarantineRows, 1);
  await session.insert({ table: 'rt.ds', values: r.good, format: GOOD_FORMAT });
  await session.insert({ table: 'rt.ds_quarantine', values: r.quarantine, format: QUARANTINE_FORMAT });
  const got = await rows(
    'SELECT toString(id) AS id, toString(i128) AS i128, name, n, tags, toUnixTimestamp(ts) AS ts, toString(t64) AS t64, toString(price) AS price, ' +
      'kind, toString(u) AS u, toString(ip) AS ip, ok, mapKeys(m) AS mk, arrayMap(x -> toString(x), mapValues(m)) AS mv, tp.1 AS ta, tp.2 AS tb, fs, f, toString(d) AS d, toString(later) AS later FROM rt.ds ORDER BY id DESC',
  );
  assert.deepEqual(JSON.parse(got[0]!), {
    id: '18446744073709551615', i128: '-170141183460469231731687303715884105728', name: 'a\u0000"\\😀', n: null, tags: ['x', null],
    ts: 1704164645, t64: '2024-01-02 03:04:05.678', price: '1234567890123456789012345678901234.5678', kind: 'b',
    u: '123e4567-e89b-12d3-a456-426614174000', ip: '::ffff:10.1.2.3', ok: true, mk: ['k'], mv: ['18446744073709551615'],
    ta: 's', tb: 7, fs: 'ab', f: 1.5, d: '2024-02-29', later: '2001-02-03 04:05:06',
  });
  assert.deepEqual(JSON.parse(got[1]!), {
    id: '1', i128: '0', name: '', n: 5, tags: [], ts: 0, t64: '2024-01-02 03:04:05.500', price: '0', kind: 'a',
    u: '00000000-0000-0000-0000-000000000000', ip: '::1', ok: false, mk: [], mv: [], ta: '', tb: 0, fs: '\u0000\u0000', f: -0.25,
    d: '1970-01-01', later: '2024-01-01 00:00:00',
  });
  const q = await rows("SELECT c__error_column, c__error, c__import_id, id, name, i128, toUnixTimestamp(insertion_date) AS ins FROM rt.ds_quarantine");
  assert.deepEqual(JSON.parse(q[0]!), {
    c__error_column: ['id', 'i128', 'tags', 'ts', 't64', 'price', 'u', 'ip', 'ok', 'm', 'tp', 'fs', 'f', 'd'],
    c__error: [
      "column 'id': value '-1' is out of range for UInt64",
      ...['i128', 'tags', 'ts', 't64', 'price', 'u', 'ip', 'ok', 'm', 'tp', 'fs', 'f', 'd'].map((c) => `column '${c}': value is missing and the column is not Nullable and has no DEFAULT`),
    ],
    c__import_id: 'imp-1', id: '-1', name: 'bad', i128: null, ins: 1714557600,
  });
});
