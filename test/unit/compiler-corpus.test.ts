/**
 * Issue 3, corpus: for each statement of test/corpus/select.sql, ClickHouse's
 * own parser (chdb, EXPLAIN AST) accepts it, so `analyze` must accept it, and
 * the tables `analyze` reports must be the table identifiers of ClickHouse's
 * AST (rules in test/corpus/ast-tables.ts). Every mismatch is reported with
 * its statement.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'chdb';
import { analyze, stripSettingsAndFormat, type Analysis } from '../../src/compiler/index.js';
import { readSqlFile } from '../corpus/read-sql-file.js';
import { formatWithClickHouse, parseWithClickHouse } from '../corpus/clickhouse-ast.js';
import { tableKey } from '../corpus/ast-tables.js';

const corpusPath = fileURLToPath(new URL('../../../test/corpus/select.sql', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'colibri-corpus-'));
const session = new Session(dir);
after(() => { session.cleanup(); rmSync(dir, { recursive: true, force: true }); });

function sorted(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

test('analyze agrees with ClickHouse on every corpus statement', async () => {
  const entries = readSqlFile(corpusPath);
  assert.ok(entries.length >= 320, `corpus has ${entries.length} statements`);
  const mismatches: string[] = [];
  let compared = 0;
  for (const e of entries) {
    const where = `select.sql:${e.line}`;
    const ch = await parseWithClickHouse(session, e.sql);
    if (!ch.ok) {
      mismatches.push(`${where}: ClickHouse's parser rejects this corpus statement: ${ch.error.split('\n')[0]}\n    ${e.sql}`);
      continue;
    }
    let a: Analysis;
    try {
      a = analyze(e.sql);
    } catch (err) {
      mismatches.push(`${where}: ClickHouse accepts it, analyze throws ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n    ${e.sql}`);
      continue;
    }
    compared++;
    const problems: string[] = [];
    if (a.kind !== 'select') problems.push(`kind ${a.kind}`);
    if (a.statementCount !== 1) problems.push(`statementCount ${a.statementCount}`);
    const expected = sorted(ch.report.tables.map(tableKey));
    const actual = sorted(a.tables.map(tableKey));
    if (JSON.stringify(expected) !== JSON.stringify(actual)) {
      problems.push(`tables: ClickHouse ${JSON.stringify(expected)}, analyze ${JSON.stringify(actual)}`);
    }
    const notWithNames = sorted(ch.report.cteRefs).filter((n) => !a.withNames.includes(n));
    if (notWithNames.length > 0) problems.push(`CTE references ${JSON.stringify(notWithNames)} missing from withNames ${JSON.stringify(a.withNames)}`);
    const tf = sorted(ch.report.tableFunctions.map((n) => n.toLowerCase()));
    const atf = sorted(a.tableFunctions.map((f) => f.name.toLowerCase()));
    if (JSON.stringify(tf) !== JSON.stringify(atf)) problems.push(`table functions: ClickHouse ${JSON.stringify(tf)}, analyze ${JSON.stringify(atf)}`);
    if (problems.length > 0) mismatches.push(`${where}: ${problems.join('; ')}\n    ${e.sql}`);
  }
  assert.ok(compared + mismatches.length >= entries.length);
  assert.equal(mismatches.length, 0, `${mismatches.length} of ${entries.length} statements disagree:\n${mismatches.join('\n')}`);
});

test('the text sent to a host has no comment and is the same statement for ClickHouse', async () => {
  // stripSettingsAndFormat() is what the Query API sends (after rewrite(), which keeps this).
  const problems: string[] = [];
  let withComments = 0;
  for (const e of readSqlFile(corpusPath)) {
    const a = analyze(e.sql);
    const out = stripSettingsAndFormat(e.sql);
    const b = analyze(out);
    if (b.commentSpans.length > 0) problems.push(`select.sql:${e.line}: comments left in ${JSON.stringify(out)}`);
    if (a.commentSpans.length === 0 || a.settingsAndFormatSpans.length > 0) continue;
    withComments++;
    const [x, y] = [await formatWithClickHouse(session, e.sql), await formatWithClickHouse(session, out)];
    if (!x.ok || !y.ok || x.formatted !== y.formatted) {
      problems.push(`select.sql:${e.line}: ClickHouse reads ${JSON.stringify(out)} differently from the statement as written`);
    }
  }
  assert.ok(withComments >= 5, `${withComments} corpus statements with comments`);
  assert.deepEqual(problems, []);
});
