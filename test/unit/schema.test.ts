import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import {
  createQuarantineTableSql,
  createTableSql,
  formatSchema,
  parseEngineOptions,
  parseSchema,
  SchemaError,
  type ColumnDef,
} from '../../src/catalog/schema.js';

const ALL_TYPES = [
  'Int8', 'Int16', 'Int32', 'Int64', 'Int128', 'Int256', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'UInt128', 'UInt256',
  'Float32', 'Float64', 'Decimal(10, 2)', 'Decimal32(3)', 'Decimal64(4)', 'Decimal128(5)', 'Decimal256(6)',
  'String', 'FixedString(3)', 'UUID', 'IPv4', 'IPv6', 'Bool', 'Date', 'Date32', 'DateTime', "DateTime('UTC')",
  'DateTime64(3)', "DateTime64(6, 'Europe/Madrid')", "Enum8('a' = 1, 'b' = 2)", "Enum16('x y' = -300, 'it\\'s' = 7)",
  'Nullable(Int32)', 'LowCardinality(String)', 'LowCardinality(Nullable(String))', 'Array(Nullable(String))',
  'Array(Array(UInt8))', 'Map(String, UInt64)', 'Tuple(String, UInt8)', 'Tuple(a String, b Array(UInt8))',
];

test('parseSchema: every supported type form round-trips through formatSchema', () => {
  const schema = ALL_TYPES.map((t, i) => `c${i} ${t}`).join(',\n  ');
  const cols = parseSchema(schema);
  assert.equal(cols.length, ALL_TYPES.length);
  cols.forEach((c, i) => {
    assert.equal(c.name, `c${i}`);
    assert.equal(c.type, ALL_TYPES[i]);
  });
  assert.deepEqual(parseSchema(formatSchema(cols)), cols);
});

test('parseSchema: backticks, JSONPaths, DEFAULT in either order, newlines, canonical spacing', () => {
  const cols = parseSchema(
    "`ts` DateTime64(3,'UTC') `json:$.ts` DEFAULT now64(3),\n`tags` Array(String) `json:$.tags[:]`,\n" +
      "n Int32 DEFAULT 0 `json:$['a b'].c[0]`, s String DEFAULT concat('a,b', ')')",
  );
  assert.deepEqual(cols, [
    { name: 'ts', type: "DateTime64(3, 'UTC')", jsonpath: '$.ts', defaultExpr: 'now64(3)' },
    { name: 'tags', type: 'Array(String)', jsonpath: '$.tags[:]', defaultExpr: null },
    { name: 'n', type: 'Int32', jsonpath: "$['a b'].c[0]", defaultExpr: '0' },
    { name: 's', type: 'String', jsonpath: null, defaultExpr: "concat('a,b', ')')" },
  ]);
  assert.equal(
    formatSchema(cols),
    "`ts` DateTime64(3, 'UTC') `json:$.ts` DEFAULT now64(3), `tags` Array(String) `json:$.tags[:]`, " +
      "`n` Int32 `json:$['a b'].c[0]` DEFAULT 0, `s` String DEFAULT concat('a,b', ')')",
  );
});

function rejects(schema: string, message: RegExp): void {
  assert.throws(() => parseSchema(schema), (e: unknown) => e instanceof SchemaError && message.test(e.message));
}

test('parseSchema: errors name the column and the problem', () => {
  rejects('ts DateTimee', /column 'ts': unknown type 'DateTimee'/);
  rejects('a Int32, a String', /column 'a': duplicated/);
  rejects('`1a` Int32', /column '1a': name must start/);
  rejects('c__x Int32', /column 'c__x': name is reserved/);
  rejects('insertion_date DateTime', /column 'insertion_date': name is reserved/);
  rejects('a Nullable(Array(Int8))', /column 'a': Nullable\(Array\) is not allowed/);
  rejects('a Decimal(5, 7)', /column 'a': Decimal: a scale must be between 0 and 5/);
  rejects("e Enum8('a' = 1, 'a' = 2)", /column 'e': Enum8 name 'a' is repeated/);
  rejects("e Enum8('a' = 300)", /column 'e': Enum8 value 300 is out of range/);
  rejects('a Array(String', /unbalanced/);
  rejects('a String `json:a.b`', /column 'a': JSONPath 'a.b' must start with '\$'/);
  rejects('a String `json:$.a[?(@.x)]`', /column 'a': JSONPath .*unsupported selector/);
  rejects('a String DEFAULT 1; DROP TABLE x', /column 'a': DEFAULT expression must not contain ';'/);
  rejects('a String DEFAULT (SELECT 1)', /column 'a': DEFAULT expression must not contain a subquery/);
  rejects('a String DEFAULT 1 -- x', /column 'a': DEFAULT expression must not contain comments/);
  rejects('a String CODEC(ZSTD)', /column 'a': unexpected 'CODEC\(ZSTD\)'/);
  rejects('a', /column 'a': missing type/);
  rejects('', /column 1 is empty/);
  rejects(Array.from({ length: 1001 }, (_, i) => `c${i} UInt8`).join(','), /more than 1000 columns/);
  rejects(`a String DEFAULT '${'x'.repeat(70000)}'`, /longer than 65536/);
});

test('parseEngineOptions: engines, arguments and conservative fragment checks', () => {
  assert.deepEqual(parseEngineOptions({}), { engine: 'MergeTree()', sortingKey: null, partitionKey: null, ttl: null, settings: null });
  const o = parseEngineOptions({
    engine: 'ReplacingMergeTree',
    engine_ver: 'v',
    engine_sorting_key: 'a, b',
    engine_partition_key: 'toYYYYMM(ts)',
    engine_ttl: 'ts + toIntervalDay(7)',
    engine_settings: "index_granularity = 8192, merge_with_ttl_timeout = 3600",
  });
  assert.equal(o.engine, 'ReplacingMergeTree(v)');
  assert.equal(o.sortingKey, 'a, b');
  assert.equal(o.settings, 'index_granularity = 8192, merge_with_ttl_timeout = 3600');
  assert.equal(parseEngineOptions({ engine: 'CollapsingMergeTree(sign)' }).engine, 'CollapsingMergeTree(sign)');
  assert.throws(() => parseEngineOptions({ engine: 'CollapsingMergeTree' }), /takes 1 arguments, got 0/);
  assert.throws(() => parseEngineOptions({ engine: 'Log' }), /'Log' is not supported/);
  assert.throws(() => parseEngineOptions({ engine_sorting_key: 'a; DROP TABLE x' }), /must not contain ';'/);
  assert.throws(() => parseEngineOptions({ engine_partition_key: 'f(a' }), /unbalanced/);
  assert.throws(() => parseEngineOptions({ engine_ttl: "ts /* x */" }), /comments/);
  assert.throws(() => parseEngineOptions({ engine_settings: "storage_policy = 'x'" }), /'storage_policy' is not allowed/);
  assert.throws(() => parseEngineOptions({ engine_settings: 'index_granularity = (1)' }), /not of the form/);
});

const DDL_COLUMNS: ColumnDef[] = parseSchema(
  "`id` UInt64, `ts` DateTime, `name` String DEFAULT 'x', `n` Nullable(Int32), `tags` Array(String), `d` Decimal(10, 2), `e` Enum8('a' = 1, 'b' = 2)",
);

test('createTableSql / createQuarantineTableSql: exact text', () => {
  const engine = parseEngineOptions({ engine_sorting_key: 'id, ts', engine_partition_key: 'toYYYYMM(ts)' });
  assert.equal(
    createTableSql('db', 't', DDL_COLUMNS.slice(0, 3), engine),
    "CREATE TABLE `db`.`t`\n(\n    `id` UInt64,\n    `ts` DateTime,\n    `name` String DEFAULT 'x'\n)\nENGINE = MergeTree()\nPARTITION BY toYYYYMM(ts)\nORDER BY (id, ts)",
  );
  assert.match(createTableSql('db', 't', DDL_COLUMNS, parseEngineOptions({})), /\nORDER BY tuple\(\)$/);
  assert.throws(() => createTableSql('d`b', 't', DDL_COLUMNS, engine), /Invalid database name/);
  const q = createQuarantineTableSql('db', 't_quarantine', DDL_COLUMNS.slice(0, 2));
  assert.equal(
    q,
    'CREATE TABLE `db`.`t_quarantine`\n(\n    `c__error_column` Array(String),\n    `c__error` Array(String),\n    `c__import_id` Nullable(String),\n' +
      '    `id` Nullable(String),\n    `ts` Nullable(String),\n    `insertion_date` DateTime\n)\nENGINE = MergeTree()\nPARTITION BY toYYYYMM(insertion_date)\nORDER BY insertion_date',
  );
});

test('generated DDL is accepted by ClickHouse (chdb)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'colibri-schema-'));
  const s = new Session(dir);
  try {
    await s.queryAsync('CREATE DATABASE IF NOT EXISTS ws');
    const all = parseSchema(ALL_TYPES.map((t, i) => `c${i} ${t}`).join(', '));
    const engines = [
      parseEngineOptions({}),
      parseEngineOptions({ engine: 'ReplacingMergeTree', engine_ver: 'c3', engine_sorting_key: 'c0, c1', engine_partition_key: 'toYYYYMM(c27)', engine_ttl: 'c27 + toIntervalDay(7)', engine_settings: 'index_granularity = 8192' }),
      parseEngineOptions({ engine: 'SummingMergeTree', engine_sorting_key: 'c0' }),
      parseEngineOptions({ engine: 'CollapsingMergeTree(c0)', engine_sorting_key: 'c1' }),
      parseEngineOptions({ engine: 'AggregatingMergeTree', engine_sorting_key: 'c1' }),
    ];
    for (let k = 0; k < engines.length; k++) {
      await s.queryAsync(createTableSql('ws', `t${k}`, all, engines[k]!));
    }
    await s.queryAsync(createQuarantineTableSql('ws', 't0_quarantine', all));
    const r = await s.queryAsync("SELECT name, type FROM system.columns WHERE database = 'ws' AND table = 't0' ORDER BY position", { format: 'JSONEachRow' });
    const types = r.text().trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    assert.equal(types.length, ALL_TYPES.length);
    assert.equal(types[0], 'Int8');
    const q = await s.queryAsync("SELECT type FROM system.columns WHERE database = 'ws' AND table = 't0_quarantine' ORDER BY position", { format: 'JSONEachRow' });
    const qt = q.text().trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    assert.deepEqual(qt.slice(0, 3), ['Array(String)', 'Array(String)', 'Nullable(String)']);
    assert.equal(qt[qt.length - 1], 'DateTime');
    assert.equal(qt.length, ALL_TYPES.length + 4);
  } finally {
    s.cleanup?.();
    rmSync(dir, { recursive: true, force: true });
  }
});
