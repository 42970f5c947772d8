import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  analyze,
  analyzeUncached,
  checkSandbox,
  compile,
  compileUncached,
  DEFAULT_ALLOWED_SETTINGS,
  rewrite,
  SqlPolicyError,
  SqlSyntaxError,
  stripComments,
  stripSettingsAndFormat,
  type CompileResources,
  type PipeNodeInput,
  type SandboxPolicy,
} from '../../src/compiler/index.js';
import { projectRoot } from '../../src/compiler/native.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';

function policyError(fn: () => unknown): SqlPolicyError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SqlPolicyError, `expected SqlPolicyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a SqlPolicyError');
}

describe('analyze', () => {
  it('reports kind, tables, WITH names, functions, settings and format', () => {
    const sql =
      'WITH (SELECT max(ts) FROM ws.events) AS m, top AS (SELECT * FROM users) ' +
      "SELECT dictGet('d', 'x', id), * FROM top AS t JOIN numbers(3) AS n ON 1 " +
      'WHERE id IN ids SETTINGS max_threads = 2 FORMAT JSON';
    const a = analyzeUncached(sql);
    assert.equal(a.kind, 'select');
    assert.equal(a.statementCount, 1);
    assert.deepEqual(
      a.tables.map((t) => [t.database, t.table, t.alias, sql.slice(t.start, t.end)]),
      [
        ['ws', 'events', null, 'ws.events'],
        [null, 'users', null, 'users'],
        [null, 'ids', null, 'ids'],
      ],
    );
    assert.deepEqual(a.withNames, ['m', 'top']);
    assert.deepEqual(a.tableFunctions.map((f) => [f.name, sql.slice(f.start, f.end)]), [['numbers', 'numbers']]);
    assert.deepEqual(a.tableByStringFunctions.map((f) => f.name), ['dictGet']);
    assert.deepEqual(a.settings, [{ name: 'max_threads', value: '2' }]);
    assert.equal(a.format, 'JSON');
    assert.equal(a.subquerySettings, false);
    assert.equal(a.intoOutfile, false);
  });

  it('gives UTF-16 offsets (JS string indices) for non-ASCII text', () => {
    const sql = "SELECT '😀é' AS x FROM `tâble` AS t JOIN `db`.`ü` USING id";
    const a = analyzeUncached(sql);
    assert.deepEqual(
      a.tables.map((t) => sql.slice(t.start, t.end)),
      ['`tâble`', '`db`.`ü`'],
    );
    assert.equal(a.tables[0]!.table, 'tâble');
    assert.equal(a.tables[1]!.database, 'db');
  });

  it('classifies statements and counts them', () => {
    assert.equal(analyze('INSERT INTO t VALUES (1)').kind, 'insert');
    assert.equal(analyze('drop table t').kind, 'drop');
    assert.equal(analyze('SYSTEM SHUTDOWN').kind, 'system');
    const multi = analyze('SELECT 1; SELECT * FROM secret');
    assert.equal(multi.statementCount, 2);
    assert.deepEqual(multi.tables.map((t) => t.table), ['secret']);
  });

  it('throws SqlSyntaxError with line and column', () => {
    try {
      analyze('SELECT a\nFROM t\nWHERE x = = 1');
      assert.fail('expected a syntax error');
    } catch (err) {
      assert.ok(err instanceof SqlSyntaxError);
      assert.equal(err.line, 3);
      assert.equal(err.column, 11);
      assert.match(err.message, /expected expression, found '='/);
      assert.match(err.message, /line 3, column 11/);
    }
    assert.throws(() => analyze("SELECT 'é' ! 1"), (e: unknown) => e instanceof SqlSyntaxError && e.column === 12);
  });

  it('caches by SQL text and returns frozen results', () => {
    const sql = `SELECT * FROM cache_probe_${Date.now()}`;
    const a = analyze(sql);
    assert.equal(analyze(sql), a);
    assert.notEqual(analyzeUncached(sql), a);
    assert.ok(Object.isFrozen(a));
    assert.ok(Object.isFrozen(a.tables));
    assert.throws(() => {
      (a.tables as unknown as unknown[]).push({});
    }, TypeError);
  });

  it('refuses hostile depth and non-ASCII look-alikes without crashing', () => {
    const deep = 'SELECT ' + '('.repeat(100000) + '1' + ')'.repeat(100000);
    assert.throws(() => analyze(deep), (e: unknown) => e instanceof SqlSyntaxError && /too deeply nested/.test(e.message));
    // Cyrillic "с" in "system": refused by the lexer, never a different identifier.
    assert.throws(() => analyze('SELECT * FROM \u0441ystem.tables'), SqlSyntaxError);
  });

  it('strips the top-level SETTINGS and FORMAT clauses only', () => {
    assert.equal(
      stripSettingsAndFormat('/* c */ SELECT a FROM t WHERE x IN (SELECT 1) SETTINGS max_threads = 1 FORMAT CSV;'),
      'SELECT a FROM t WHERE x IN (SELECT 1)',
    );
    assert.equal(stripSettingsAndFormat('SELECT 1 FORMAT JSON SETTINGS max_threads = 1'), 'SELECT 1');
    assert.equal(stripSettingsAndFormat("SELECT 'SETTINGS x=1'"), "SELECT 'SETTINGS x=1'");
    // Every comment left becomes one space (18.16 does not nest block comments, 26 does).
    assert.equal(
      stripSettingsAndFormat("SELECT a /* /* */ , (SELECT 1) -- */ FROM t -- x\nWHERE b = '/*' SETTINGS /* c */ max_threads = 1"),
      "SELECT a   FROM t  \nWHERE b = '/*'",
    );
  });

  it('accepts comments exactly as ClickHouse 26 lexes them and reports their spans', () => {
    const sql = 'SELECT 1 /* a /* b */ c */, 2 // d\n# e\nFROM t';
    const a = analyze(sql);
    assert.deepEqual(a.tables.map((t) => t.table), ['t']);
    assert.deepEqual(a.commentSpans.map((c) => sql.slice(c.start, c.end)), ['/* a /* b */ c */', '// d', '# e']);
    assert.throws(() => analyze('SELECT 1 /* a /* b */ FROM t'), (e: unknown) => e instanceof SqlSyntaxError && /unterminated comment/.test(e.message));
    assert.equal(stripComments("x = 1 /* /* */ OR 1 -- */"), 'x = 1  ');
    assert.throws(() => stripComments("x = '"), SqlSyntaxError);
  });

  it('reports WITH expression aliases after IN (not CTE names)', () => {
    const a = analyze('WITH [1, 2] AS ids, c AS (SELECT 1) SELECT * FROM t WHERE x IN ids AND y IN c');
    assert.deepEqual(a.inAliases.map((f) => f.name), ['ids']);
    assert.deepEqual(a.tables.map((t) => t.table), ['t']);
  });
});

describe('rewrite', () => {
  it('replaces references and leaves every other byte', () => {
    const out = rewrite("SELECT t.a, 't' FROM t -- c\nJOIN events e USING id WHERE id IN ids", {
      t: { database: 'ws', table: 't' },
      events: { database: 'ws', table: 'events_v2' },
      ids: { subquery: 'SELECT id FROM ws.allowed', alias: 'ids' },
    });
    assert.equal(
      out,
      "SELECT t.a, 't' FROM `ws`.`t`  \nJOIN `ws`.`events_v2` e USING id WHERE id IN (SELECT id FROM ws.allowed)",
    );
  });

  it('replaces every comment, also in subquery targets, by one space', () => {
    const out = rewrite('SELECT * FROM t /* /* */ , system.users -- */', {
      t: { subquery: 'SELECT * FROM ws.t WHERE (org = 1 /* /* */ OR 1 -- */\n)', alias: 't' },
    });
    assert.equal(out, 'SELECT * FROM (SELECT * FROM ws.t WHERE (org = 1  \n)) AS `t`  ');
  });

  it('keys qualified references as db.t', () => {
    assert.equal(
      rewrite('SELECT * FROM other.t, t', { 'other.t': { subquery: 'SELECT 1', alias: 'x' } }),
      'SELECT * FROM (SELECT 1) AS `x`, t',
    );
  });
});

describe('compile', () => {
  const resources: CompileResources = {
    database: 'ws_main',
    datasources: [{ name: 'events' }, { name: 'users', table: 'users_v2' }],
    endpoints: [{ pipe: 'vip', sql: 'SELECT 1 AS id' }],
  };
  const nodes: PipeNodeInput[] = [
    { name: 'clicks', sql: "SELECT * FROM events WHERE type = 'click'" },
    { name: 'per_user', sql: 'SELECT id, count() AS c FROM clicks GROUP BY id' },
    { name: 'out', sql: 'WITH (SELECT max(c) FROM per_user) AS mx SELECT * FROM per_user WHERE c = mx AND id IN vip' },
  ];

  it('inlines nodes, qualifies data sources and reports the graph', () => {
    const r = compile(nodes, 'out', resources);
    const clicks = "(SELECT * FROM `ws_main`.`events` WHERE type = 'click') AS `clicks`";
    const perUser = `(SELECT id, count() AS c FROM ${clicks} GROUP BY id) AS \`per_user\``;
    assert.equal(r.sql, `WITH (SELECT max(c) FROM ${perUser}) AS mx SELECT * FROM ${perUser} WHERE c = mx AND id IN (SELECT 1 AS id)`);
    assert.deepEqual(r.order, ['clicks', 'per_user', 'out']);
    assert.deepEqual(r.dependencies, { clicks: ['events'], per_user: ['clicks'], out: ['per_user', 'vip'] });
    assert.deepEqual(r.datasources, ['events']);
  });

  it('caches by nodes + target + resources', () => {
    const a = compile(nodes, 'per_user', resources);
    assert.equal(compile(nodes.map((n) => ({ ...n })), 'per_user', { ...resources }), a);
    const filtered = compile(nodes, 'per_user', { ...resources, filters: { events: 'org = 7' } });
    assert.notEqual(filtered, a);
    assert.match(filtered.sql, /\(SELECT \* FROM `ws_main`\.`events` WHERE \(org = 7\)\) AS `events`/);
    assert.deepEqual(compileUncached(nodes, 'per_user', resources), { ...a });
  });

  it('a caller cacheKey is verified: same content hits, other content under the same key recompiles', () => {
    const fresh = (): PipeNodeInput[] => nodes.map((n) => ({ name: n.name, sql: (' ' + n.sql).slice(1) }));
    const a = compile(fresh(), 'out', resources, { cacheKey: 'p1' });
    assert.equal(compile(fresh(), 'out', { ...resources }, { cacheKey: 'p1' }), a);
    // Same key, different node text: never the stale result.
    const changed = fresh();
    changed[0] = { name: 'clicks', sql: "SELECT * FROM events WHERE type = 'view'" };
    const b = compile(changed, 'out', resources, { cacheKey: 'p1' });
    assert.notEqual(b, a);
    assert.match(b.sql, /type = 'view'/);
    // Same key, a row filter added: never the unfiltered result.
    const f = compile(fresh(), 'out', { ...resources, filters: { events: 'org = 7' } }, { cacheKey: 'p1' });
    assert.match(f.sql, /WHERE \(org = 7\)/);
    assert.equal(compile(fresh(), 'out', resources, { cacheKey: 'p2' }), a);
  });

  it('keeps non-ASCII names and text intact', () => {
    const r = compileUncached(
      [{ name: 'nœud', sql: "SELECT '😀' AS e, * FROM `événements`" }, { name: 'fin', sql: 'SELECT * FROM `nœud`' }],
      'fin',
      { database: 'wś', datasources: [{ name: 'événements' }], endpoints: [] },
    );
    assert.equal(r.sql, "SELECT * FROM (SELECT '😀' AS e, * FROM `wś`.`événements`) AS `nœud`");
    assert.deepEqual(r.order, ['nœud', 'fin']);
    assert.deepEqual(r.dependencies, { 'nœud': ['événements'], fin: ['nœud'] });
    assert.deepEqual(r.datasources, ['événements']);
  });

  it('names cycles and unknown resources', () => {
    const cyc = policyError(() =>
      compile([{ name: 'a', sql: 'SELECT * FROM b' }, { name: 'b', sql: 'SELECT * FROM a' }], 'a', resources),
    );
    assert.equal(cyc.status, 400);
    assert.equal(cyc.message, 'Cycle in pipe nodes: a -> b -> a');
    const inAlias = policyError(() => compile([{ name: 'a', sql: 'WITH [1] AS v SELECT * FROM events WHERE id IN v' }], 'a', resources));
    assert.equal(inAlias.status, 400);
    assert.match(inAlias.message, /^Node 'a': 'IN v' names a WITH expression alias/);
    const nf = policyError(() => compile([{ name: 'a', sql: 'SELECT * FROM ghosts' }], 'a', resources));
    assert.equal(nf.status, 400);
    assert.equal(nf.message, "Resource 'ghosts' not found");
    assert.throws(
      () => compile([{ name: 'a', sql: 'SELECT * FROM' }], 'a', resources),
      (e: unknown) => e instanceof SqlSyntaxError && /^Node 'a': /.test(e.message) && e.line === 1,
    );
  });
});

describe('checkSandbox', () => {
  const policy: SandboxPolicy = { database: 'ws_main', readableDatasources: ['events', 'users'], maxExecutionTime: 30 };
  const refuse = (sql: string, status: 400 | 403, part: RegExp): void => {
    const e = policyError(() => checkSandbox(analyze(sql), policy));
    assert.equal(e.status, status, sql);
    assert.match(e.message, part, sql);
  };

  it('accepts plain reads of readable data sources and generator table functions', () => {
    checkSandbox(analyze('SELECT count() FROM events JOIN users USING id SETTINGS max_threads = 2, max_execution_time = 10'), policy);
    checkSandbox(analyze('SELECT * FROM numbers(10) JOIN ws_main.events ON 1'), policy);
    checkSandbox(analyze("SELECT * FROM generateRandom('a UInt8') LIMIT 1"), policy);
    checkSandbox(analyze('WITH c AS (SELECT * FROM events) SELECT * FROM c'), policy);
  });

  it('refuses what no tenant may run (400), naming the part', () => {
    refuse('DROP TABLE events', 400, /DROP/);
    refuse('SELECT 1; SELECT 2', 400, /one statement/);
    refuse("SELECT * FROM url('http://x', CSV)", 400, /'url'/);
    refuse("SELECT * FROM file('/etc/passwd')", 400, /'file'/);
    refuse("SELECT * FROM remote('h', system.users)", 400, /'remote'/);
    refuse('SELECT * FROM system.tables', 400, /system\.tables/);
    refuse('SELECT * FROM INFORMATION_SCHEMA.TABLES', 400, /INFORMATION_SCHEMA/);
    refuse("SELECT dictGet('ws.d', 'x', 1) FROM events", 400, /'dictGet'/);
    refuse("SELECT joinGet('other.j', 'v', 1)", 400, /'joinGet'/);
    refuse("SELECT file('/etc/passwd')", 400, /'file'/);
    refuse("SELECT 1 INTO OUTFILE '/tmp/x'", 400, /INTO OUTFILE/);
    refuse('SELECT 1 SETTINGS readonly = 0', 400, /'readonly'/);
    refuse('SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', 400, /subquery/);
    refuse('SELECT 1 SETTINGS max_memory_usage = 100000000000', 400, /'max_memory_usage'/);
    refuse('SELECT 1 SETTINGS max_execution_time = 3600', 400, /max_execution_time/);
    refuse('SELECT * FROM {t:Identifier}', 400, /cannot name a table/);
    refuse('WITH [1, 2] AS ids SELECT * FROM events WHERE id IN ids', 400, /'IN ids' names a WITH expression alias/);
    refuse('WITH 1 AS t SELECT * FROM events WHERE id IN (t)', 400, /'IN t'/);
  });

  it('refuses other databases and unreadable data sources (403)', () => {
    refuse('SELECT * FROM ws_other.events', 403, /ws_other/);
    refuse('SELECT * FROM salaries', 403, /'salaries'/);
    refuse('SELECT * FROM events WHERE id IN (SELECT id FROM salaries)', 403, /'salaries'/);
    refuse('SELECT (SELECT max(x) FROM salaries)', 403, /'salaries'/);
    refuse('SELECT 1 WHERE 1 IN salaries', 403, /'salaries'/);
  });

  it('has a documented default settings allow-list without readonly', () => {
    assert.ok(DEFAULT_ALLOWED_SETTINGS.includes('max_threads'));
    assert.ok(!DEFAULT_ALLOWED_SETTINGS.includes('readonly'));
    const e = policyError(() => checkSandbox(analyze('SELECT 1 SETTINGS readonly = 1'), { database: 'w', allowedSettings: ['readonly'] }));
    assert.match(e.message, /'readonly'/);
  });
});

describe('compiled SQL runs on real ClickHouse', () => {
  const setup = [
    'CREATE DATABASE IF NOT EXISTS ws_main',
    'CREATE TABLE ws_main.events (id UInt32, type String) ENGINE = Memory',
    'CREATE TABLE ws_main.users_v2 (id UInt32, name String) ENGINE = Memory',
    "INSERT INTO ws_main.events VALUES (1, 'click'), (1, 'click'), (2, 'click'), (3, 'view')",
    "INSERT INTO ws_main.users_v2 VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')",
  ];
  const pipe: PipeNodeInput[] = [
    { name: 'clicks', sql: "SELECT id FROM events WHERE type = 'click'" },
    { name: 'per_user', sql: 'SELECT id, count() AS c FROM clicks GROUP BY id' },
    {
      name: 'out',
      sql: 'WITH (SELECT max(c) FROM per_user) AS mx SELECT u.name, p.c FROM per_user AS p ANY LEFT JOIN users AS u USING id WHERE p.c = mx',
    },
  ];
  const res: CompileResources = { database: 'ws_main', datasources: [{ name: 'events' }, { name: 'users', table: 'users_v2' }], endpoints: [] };

  it('on the embedded engine (chdb, ClickHouse 26)', async () => {
    const chdb = (await import('chdb')) as { query(q: string, format?: string): string };
    chdb.query(setup.join(';\n'), 'CSV');
    const sql = compile(pipe, 'out', res).sql;
    assert.equal(chdb.query(sql, 'CSV').trim(), '"ann",2');
    const nested = [{ name: 'n', sql: "SELECT count() FROM ws_main.events WHERE type = 'click' /* /* */ OR 1 -- */\n" }];
    assert.equal(chdb.query(nested[0]!.sql, 'CSV').trim(), '3', 'ClickHouse 26 nests block comments');
    assert.equal(chdb.query(compile(nested, 'n', res).sql, 'CSV').trim(), '3');
  });

  let server: ClickHouseServer | null = null;
  before(async () => {
    server = await startClickHouseServer();
  });
  after(async () => {
    await server?.stop();
  });
  it('on clickhouse-server 18.16 (nested subqueries, no CTE needed)', async () => {
    const s = server!;
    const run = async (q: string): Promise<string> => {
      const r = await fetch(s.url, {
        method: 'POST',
        body: q,
        headers: { authorization: 'Basic ' + Buffer.from(`${s.user}:${s.password}`).toString('base64') },
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      return text;
    };
    for (const q of setup) await run(q);
    const sql = compile(pipe, 'out', res).sql;
    assert.equal((await run(sql + ' FORMAT CSV')).trim(), '"ann",2');
    // A nested comment means `OR 1` to 18.16, nothing to 26: the compiled text has no comment.
    const nested = [{ name: 'n', sql: "SELECT count() FROM ws_main.events WHERE type = 'click' /* /* */ OR 1 -- */\n" }];
    const asWritten = (await run(`${nested[0]!.sql} FORMAT CSV`)).trim();
    assert.equal(asWritten, '4', '18.16 ends the comment at the first */');
    assert.equal((await run(compile(nested, 'n', res).sql + ' FORMAT CSV')).trim(), '3');
    assert.equal((await run(stripSettingsAndFormat(nested[0]!.sql) + ' FORMAT CSV')).trim(), '3');
  });
});

describe('native doctest suite', () => {
  it('builds and passes (make -C native/test run)', () => {
    const r = spawnSync('make', ['-s', '-C', join(projectRoot(), 'native', 'test'), 'run'], { encoding: 'utf8', timeout: 600000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Status: SUCCESS!/);
  });
});
