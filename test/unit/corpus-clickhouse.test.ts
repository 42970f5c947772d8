/**
 * The ClickHouse side of the compiler corpus (issue 3), independent of our
 * compiler: every corpus statement is accepted by ClickHouse's own parser
 * (chdb, EXPLAIN AST), the corpus covers the required constructs, and the
 * scoping rules that test/corpus/ast-tables.ts applies to EXPLAIN AST output
 * are what ClickHouse itself does when it runs queries (checked on real
 * tables in a throw-away chdb data directory).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'chdb';
import { readSqlFile } from '../corpus/read-sql-file.js';
import { parseWithClickHouse, formatWithClickHouse } from '../corpus/clickhouse-ast.js';
import { tableKey } from '../corpus/ast-tables.js';

const corpusPath = fileURLToPath(new URL('../../../test/corpus/select.sql', import.meta.url));
const advPath = fileURLToPath(new URL('../../../test/corpus/adversarial.sql', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'colibri-corpus-ch-'));
const session = new Session(dir);
after(() => { session.cleanup(); rmSync(dir, { recursive: true, force: true }); });

async function run(sql: string): Promise<string> {
  return (await session.queryAsync(sql, { format: 'TSVRaw' })).text().trim();
}

async function fails(sql: string): Promise<string> {
  try { await run(sql); } catch (e) { return e instanceof Error ? e.message : String(e); }
  return '';
}

test('ClickHouse parses every corpus statement as exactly one SELECT', async () => {
  const entries = readSqlFile(corpusPath);
  assert.ok(entries.length >= 320, `corpus has ${entries.length} statements, want >= 320`);
  const problems: string[] = [];
  for (const e of entries) {
    const r = await parseWithClickHouse(session, e.sql).catch((err: unknown) => ({ ok: false as const, error: String(err) }));
    if (!r.ok) { problems.push(`select.sql:${e.line}: ${r.error.split('\n')[0]}\n  ${e.sql}`); continue; }
    if (!/^Select(WithUnion|IntersectExcept)Query/.test(r.dump)) problems.push(`select.sql:${e.line}: not a SELECT: ${r.dump.split('\n')[0]}`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('corpus statements are distinct', () => {
  const seen = new Map<string, number>();
  const dups: string[] = [];
  for (const e of readSqlFile(corpusPath)) {
    const k = e.sql.replace(/\s+/g, ' ');
    const prev = seen.get(k);
    if (prev !== undefined) dups.push(`select.sql:${e.line} repeats line ${prev}`);
    seen.set(k, e.line);
  }
  assert.deepEqual(dups, []);
});

test('corpus covers every construct of issue 3 at least twice', () => {
  const sqls = readSqlFile(corpusPath).map((e) => e.sql);
  const constructs: [string, RegExp][] = [
    ['WITH expression alias', /^WITH\s+(?!\w+\s+AS\s*\()[^]*?\sAS\s+\w+/i],
    ['WITH name AS (subquery)', /\bWITH\s+(RECURSIVE\s+)?[`"\w ]+\s+AS\s*\(\s*SELECT/i],
    ['WITH (subquery) AS name', /\bWITH\s+\(\s*SELECT[^]*\)\s+AS\s+\w+/i],
    ['SELECT DISTINCT', /SELECT\s+DISTINCT\s+(?!ON)/i], ['DISTINCT ON', /DISTINCT\s+ON\s*\(/i],
    ['db.table', /FROM\s+[`"]?(analytics|ws_main|archive|shared)[`"]?\./i], ['FROM subquery', /FROM\s*\(\s*SELECT/i],
    ['table function', /FROM\s+(numbers|zeros|values|generate_series)\(/i], ['FINAL', /\bFINAL\b/], ['SAMPLE', /\bSAMPLE\b/],
    ['ARRAY JOIN', /(?<!LEFT )ARRAY JOIN/], ['LEFT ARRAY JOIN', /LEFT ARRAY JOIN/], ['GLOBAL JOIN', /GLOBAL (\w+ )*JOIN/],
    ['ANY JOIN', /\bANY (\w+ )?JOIN/], ['ALL JOIN', /\bALL (\w+ )?JOIN/], ['ASOF JOIN', /ASOF (LEFT )?JOIN/],
    ['SEMI JOIN', /SEMI (LEFT )?JOIN/], ['ANTI JOIN', /ANTI JOIN/], ['INNER JOIN', /INNER JOIN/], ['LEFT JOIN', /LEFT (OUTER )?JOIN/],
    ['RIGHT JOIN', /RIGHT (OUTER )?JOIN/], ['FULL JOIN', /FULL (OUTER )?JOIN/], ['CROSS JOIN', /CROSS JOIN/],
    ['USING', /\bUSING\b/], ['ON', /JOIN[^]*\bON\b/], ['comma join', /FROM\s+\w+(\s+(AS\s+)?\w+)?\s*,\s*\w+/],
    ['PREWHERE', /PREWHERE/], ['WHERE', /WHERE/], ['WITH ROLLUP', /WITH ROLLUP|ROLLUP\(/], ['WITH CUBE', /WITH CUBE|CUBE\(/],
    ['WITH TOTALS', /WITH TOTALS/], ['GROUPING SETS', /GROUPING SETS/], ['GROUP BY ALL', /GROUP BY ALL/], ['HAVING', /HAVING/],
    ['QUALIFY', /QUALIFY/], ['WINDOW', /WINDOW \w+ AS/], ['WITH FILL', /WITH FILL/], ['LIMIT BY', /LIMIT [\d, ]+ BY/],
    ['OFFSET', /OFFSET/], ['UNION ALL', /UNION ALL/], ['UNION DISTINCT', /UNION DISTINCT/], ['EXCEPT', /\bEXCEPT (ALL |DISTINCT )?SELECT/],
    ['INTERSECT', /INTERSECT/], ['SETTINGS', /SETTINGS/], ['FORMAT', /FORMAT \w+/], ['lambda', /->/], ['array literal', /\[\d/],
    ['tuple', /\btuple\(|\(\d+, '/], ['map', /\bmap\(|\[['{]/], ['CASE', /\bCASE\b/], ['CAST AS', /CAST\([^)]* AS /],
    ['::', /::/], ['INTERVAL', /INTERVAL/], ['IN subquery', /\bIN \(\s*SELECT/], ['NOT IN', /NOT IN/],
    ['GLOBAL IN', /GLOBAL (NOT )?IN/], ['IN table', /\bIN [`"]?\w+[`"]?(\.\w+)?\s*($|\)|AND|SETTINGS|INTERSECT)/m],
    ['scalar subquery', /[=>,(]\s*\(SELECT/], ['scalar subquery in WITH expression', /WITH[^]*\(SELECT[^]*\)[^]*AS \w+/],
    ['window function', /OVER \(/], ['-- comment', /--/], ['/* comment */', /\/\*/], ['backticks', /`/], ['double quotes', /"\w+"/],
    ['string escape', /\\'|''|\\\\/], ['query parameter', /\{\w+:\w+/],
  ];
  const missing = constructs.filter(([, re]) => sqls.filter((s) => re.test(s)).length < 2).map(([n]) => n);
  assert.deepEqual(missing, []);
});

test('an identifier on the right of IN names a table (EXPLAIN AST shows it as a plain Identifier)', async () => {
  await run('CREATE TABLE ids (id UInt64) ENGINE = Memory');
  await run('INSERT INTO ids VALUES (7)');
  assert.equal(await run('SELECT 7 IN ids, 8 IN ids, 7 NOT IN ids'), '1\t0\t0');
  const r = await parseWithClickHouse(session, 'SELECT count() FROM events WHERE user_id IN ids');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables.map(tableKey), ['events', 'ids']);
  // the same holds for a parenthesized name and for the function-call spellings
  assert.equal(await run('SELECT 7 IN (ids), in(7, ids), notIn(7, ids), globalIn(7, ids)'), '1\t1\t0\t1');
  const r2 = await parseWithClickHouse(session, 'SELECT 1 WHERE 7 IN (ids) OR in(7, db.a) OR globalNotIn(7, b)');
  assert.ok(r2.ok);
  assert.deepEqual(r2.report.tables.map(tableKey), ['ids', 'db.a', 'b']);
});

test('an expression alias on the right of IN is the expression, not a table', async () => {
  // no table named s exists: ClickHouse uses the WITH alias
  assert.equal(await run('WITH (SELECT groupArray(toUInt64(7))) AS s SELECT 7 IN s'), '1');
  const r = await parseWithClickHouse(session, 'WITH (SELECT [7]) AS s SELECT 7 IN s');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables, []);
  assert.deepEqual(r.report.aliasRefs, ['s']);
});

test('WITH (subquery) AS name does not define a table: FROM name reads the table name', async () => {
  const msg = await fails('WITH (SELECT 1 AS a) AS m SELECT * FROM m');
  assert.match(msg, /UNKNOWN_TABLE/);
  const r = await parseWithClickHouse(session, 'WITH (SELECT 1 AS a) AS m SELECT * FROM m');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables.map(tableKey), ['m']);
  assert.deepEqual(r.report.cteRefs, []);
});

test('CTEs of the first SELECT are visible in every member of a UNION chain (the parser copies them)', async () => {
  assert.equal(await run('WITH c AS (SELECT 1 AS a) SELECT a FROM c UNION ALL SELECT a + 1 FROM c ORDER BY a'), '1\n2');
  const r = await parseWithClickHouse(session, 'WITH c AS (SELECT 1 AS a) SELECT a FROM c UNION ALL SELECT a FROM c');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables, []);
  assert.deepEqual(r.report.cteRefs, ['c', 'c']);
  // a member with its own WITH does not see the first member's CTEs
  assert.match(await fails('WITH c AS (SELECT 1 AS a) SELECT a FROM c UNION ALL WITH d AS (SELECT 2 AS a) SELECT a FROM c'), /UNKNOWN_TABLE/);
  const r2 = await parseWithClickHouse(session, 'WITH c AS (SELECT 1 AS a) SELECT a FROM c UNION ALL WITH d AS (SELECT 2 AS a) SELECT a FROM c');
  assert.ok(r2.ok);
  assert.deepEqual(r2.report.tables.map(tableKey), ['c']);
  assert.deepEqual(r2.report.cteRefs, ['c']);
});

test('a CTE is visible in nested subqueries but not outside its query', async () => {
  assert.equal(await run('WITH c AS (SELECT 3 AS a) SELECT * FROM (SELECT a FROM c)'), '3');
  assert.match(await fails('SELECT * FROM (WITH c AS (SELECT 1 AS a) SELECT a FROM c) UNION ALL SELECT a FROM c'), /UNKNOWN_TABLE/);
  const r = await parseWithClickHouse(session, 'SELECT * FROM (WITH c AS (SELECT 1 AS a) SELECT a FROM c) UNION ALL SELECT a FROM c');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables.map(tableKey), ['c']);
  assert.deepEqual(r.report.cteRefs, ['c']);
  // a qualified name never refers to a CTE
  const r3 = await parseWithClickHouse(session, 'WITH c AS (SELECT 1) SELECT * FROM db.c');
  assert.ok(r3.ok);
  assert.deepEqual(r3.report.tables.map(tableKey), ['db.c']);
});

test('names come out unquoted; dotted quoted names are refused as ambiguous', async () => {
  const r = await parseWithClickHouse(session, 'SELECT * FROM `analytics`."events raw" AS `x` WHERE a IN "ids"');
  assert.ok(r.ok);
  assert.deepEqual(r.report.tables, [{ database: 'analytics', table: 'events raw' }, { database: null, table: 'ids' }]);
  await assert.rejects(parseWithClickHouse(session, 'SELECT * FROM `a.b`.c'), /ambiguous/);
});

test('table functions are reported from their FROM / JOIN position only', async () => {
  const r = await parseWithClickHouse(session, "SELECT * FROM numbers(3) AS n JOIN file('x', CSV) AS f ON 1 WHERE 1 IN (SELECT * FROM url('u', CSV))");
  assert.ok(r.ok);
  assert.deepEqual(r.report.tableFunctions, ['numbers', 'file', 'url']);
  assert.deepEqual(r.report.tables, []);
});

test('multi-statement text is never sent to EXPLAIN AST', async () => {
  await run('CREATE TABLE victim (a UInt8) ENGINE = Memory');
  const r = await parseWithClickHouse(session, 'SELECT 1; DROP TABLE victim');
  assert.equal(r.ok, false);
  assert.equal(await run("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'victim'"), '1');
});

test('the adversarial file is well-formed: >= 110 attempts, each with an expectation', async () => {
  const entries = readSqlFile(advPath);
  assert.ok(entries.length >= 110, `${entries.length} attempts`);
  assert.deepEqual(entries.filter((e) => e.expect.length === 0).map((e) => e.line), []);
  // most attempts are valid ClickHouse: they test policy, not our parser
  let parsed = 0;
  for (const e of entries) if ((await formatWithClickHouse(session, e.sql)).ok) parsed++;
  assert.ok(parsed >= 100, `ClickHouse parses only ${parsed} attempts`);
});
