/**
 * Issue 3, adversarial suite: every escape attempt of
 * test/corpus/adversarial.sql (plus generated deep-nesting and huge inputs) is
 * refused by analyze + checkSandbox, and none of them reaches ClickHouse.
 *
 * Refusal rule per attempt (`-- expect: w1|w2` in the file):
 * - SqlPolicyError: its message names one of the words (case-insensitive);
 * - SqlSyntaxError: its message names one of the words, or ClickHouse's own
 *   parser rejects the text as well (formatQuerySingleLine via chdb); a valid
 *   ClickHouse statement refused with an anonymous syntax error means our
 *   parser diverges from ClickHouse's, which the test reports;
 * - anything else (accepted, another error type, a crash) fails.
 *
 * "Before it reaches ClickHouse": chdb keeps no system.query_log (clickhouse-local
 * starts no system log tables, even with a <query_log> config), but its server log
 * (--logger.log, level debug) has one `executeQuery:` line per statement it
 * starts, including statements that then fail and every statement of a
 * multi-statement text. Each attempt goes through guardedExecute(), which sends it
 * to chdb only if analyze + checkSandbox accept it; the log between a begin and a
 * middle marker must have no executeQuery line at all, and a benign control
 * query sent through the same path after the middle marker must appear.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Session } from 'chdb';
import { analyze, checkSandbox, SqlPolicyError, SqlSyntaxError } from '../../src/compiler/index.js';
import { readSqlFile } from '../corpus/read-sql-file.js';
import { formatWithClickHouse } from '../corpus/clickhouse-ast.js';

const advPath = fileURLToPath(new URL('../../../test/corpus/adversarial.sql', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'colibri-adversarial-'));
const logPath = join(dir, 'clickhouse.log');
const session = new Session(join(dir, 'data'), { connectionArgs: [`--logger.log=${logPath}`, '--logger.level=debug'] });
after(() => { session.cleanup(); rmSync(dir, { recursive: true, force: true }); });

const POLICY = { database: 'ws_test' } as const;

interface Attempt { where: string; sql: string; expect: string[]; chParses: boolean | null }

function describe(sql: string): string {
  return sql.length > 200 ? `${sql.slice(0, 120)}... (${sql.length} chars)` : sql;
}

/** Deep nesting and huge inputs, built here (too big for the .sql file). */
function generatedAttempts(): Attempt[] {
  const n = 10_000;
  const g = (name: string, sql: string): Attempt => ({ where: `generated: ${name}`, sql, expect: [], chParses: null });
  return [
    g('10k nested subqueries around file()', 'SELECT * FROM ('.repeat(n) + "SELECT * FROM file('/etc/passwd', LineAsString)" + ')'.repeat(n)),
    g('10k nested subqueries around system.users', 'SELECT * FROM ('.repeat(n) + 'SELECT * FROM system.users' + ')'.repeat(n)),
    g('10k nested IN subqueries', 'SELECT 1 FROM events WHERE user_id IN ('.repeat(n) + 'SELECT id FROM other.t' + ')'.repeat(n)),
    g('10k nested scalar subqueries', 'SELECT ' + '(SELECT '.repeat(n) + "file('/etc/passwd')" + ')'.repeat(n)),
    g('10k nested parentheses', 'SELECT ' + '('.repeat(n) + '1' + ')'.repeat(n) + ' FROM system.one'),
    g('10k nested function calls', 'SELECT ' + 'abs('.repeat(n) + '1' + ')'.repeat(n) + " FROM url('http://127.0.0.1:9/', LineAsString)"),
    g('10k nested arrays', 'SELECT ' + '['.repeat(n) + '1' + ']'.repeat(n) + ' FROM system.one'),
    g('10k nested lambdas', 'SELECT ' + 'arrayMap(x -> '.repeat(n) + 'x' + ', [1])'.repeat(n) + ' FROM system.one'),
    g('10k unclosed parentheses', 'SELECT ' + '('.repeat(n) + '1'),
    g('100k-term expression then system table', 'SELECT ' + '1 + '.repeat(100_000) + '1 FROM system.users'),
    g('100k-member UNION ALL ending in file()', 'SELECT 1 UNION ALL '.repeat(100_000) + "SELECT * FROM file('/etc/passwd', LineAsString)"),
    g('4 MB string literal then url()', `SELECT '${'x'.repeat(4 << 20)}' FROM url('http://127.0.0.1:9/', LineAsString)`),
    g('4 MB comment then multiple statements', `SELECT 1 /* ${'y'.repeat(4 << 20)} */; DROP TABLE events`),
    g('50k JOINs of system tables', 'SELECT 1 FROM events' + ' JOIN system.one ON 1'.repeat(50_000)),
  ];
}

type Outcome = { refused: true; error: Error } | { refused: false; error: unknown };

function refuse(sql: string): Outcome {
  try {
    checkSandbox(analyze(sql), POLICY);
    return { refused: false, error: null };
  } catch (err) {
    if (err instanceof SqlPolicyError || err instanceof SqlSyntaxError) return { refused: true, error: err };
    return { refused: false, error: err };
  }
}

/** The path a tenant query takes: compiler first, ClickHouse only if it accepts. */
async function guardedExecute(sql: string): Promise<'refused' | 'executed'> {
  if (refuse(sql).refused) return 'refused';
  await session.queryAsync(sql, { format: 'TSV', timeout: 15_000 }).catch(() => undefined);
  return 'executed';
}

function judge(a: Attempt, outcome: Outcome): string | null {
  if (!outcome.refused) {
    const e = outcome.error;
    return e === null ? 'accepted' : `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (not SqlSyntaxError/SqlPolicyError)`;
  }
  const msg = outcome.error.message.toLowerCase();
  const named = a.expect.length === 0 || a.expect.some((w) => msg.includes(w.toLowerCase()));
  if (named) return null;
  if (outcome.error instanceof SqlSyntaxError && a.chParses === false) return null;
  const why = outcome.error instanceof SqlSyntaxError ? 'ClickHouse parses this statement; our parser refuses it' : 'refused';
  return `${why} with ${outcome.error.name} "${outcome.error.message}", which names none of ${JSON.stringify(a.expect)}`;
}

let attempts: Attempt[] = [];

test('the adversarial file has at least 110 attempts, each with an expectation', async () => {
  const entries = readSqlFile(advPath);
  assert.ok(entries.length >= 110, `${entries.length} attempts`);
  assert.deepEqual(entries.filter((e) => e.expect.length === 0).map((e) => e.line), []);
  attempts = [];
  for (const e of entries) {
    const f = await formatWithClickHouse(session, e.sql);
    attempts.push({ where: `adversarial.sql:${e.line}`, sql: e.sql, expect: e.expect, chParses: f.ok });
  }
});

test('analyze + checkSandbox refuse every escape attempt, naming what they refuse', () => {
  assert.ok(attempts.length >= 110);
  const failures: string[] = [];
  for (const a of attempts) {
    const verdict = judge(a, refuse(a.sql));
    if (verdict !== null) failures.push(`${a.where}: ${verdict}\n    ${JSON.stringify(a.sql)}`);
  }
  assert.equal(failures.length, 0, `${failures.length} of ${attempts.length} attempts not refused as expected:\n${failures.join('\n')}`);
});

test('deeply nested and huge inputs are refused cleanly and quickly', () => {
  const failures: string[] = [];
  for (const a of generatedAttempts()) {
    const t0 = performance.now();
    const verdict = judge(a, refuse(a.sql));
    const ms = performance.now() - t0;
    if (verdict !== null) failures.push(`${a.where}: ${verdict}`);
    else if (ms > 5_000) failures.push(`${a.where}: took ${Math.round(ms)} ms`);
  }
  assert.deepEqual(failures, []);
});

test('no attempt reaches ClickHouse (checked in chdb\'s own query log)', async () => {
  const nonce = randomUUID();
  const begin = `colibri-adv-begin-${nonce}`;
  const middle = `colibri-adv-middle-${nonce}`;
  const control = `colibri-adv-control-${nonce}`;
  const end = `colibri-adv-end-${nonce}`;
  await session.queryAsync(`SELECT '${begin}'`);
  const executed: string[] = [];
  for (const a of [...attempts, ...generatedAttempts()]) {
    if ((await guardedExecute(a.sql)) === 'executed') executed.push(`${a.where}: ${describe(a.sql)}`);
  }
  await session.queryAsync(`SELECT '${middle}'`);
  assert.equal(await guardedExecute(`SELECT '${control}' AS c`), 'executed', 'the benign control query must pass the compiler');
  await session.queryAsync(`SELECT '${end}'`);

  let log = '';
  for (let i = 0; i < 100 && !log.includes(end); i++) {
    if (existsSync(logPath)) log = readFileSync(logPath, 'utf8');
    if (!log.includes(end)) await sleep(50);
  }
  const lines = log.split('\n');
  const at = (marker: string): number => lines.findIndex((l) => l.includes('executeQuery:') && l.includes(marker));
  const [b, m, e] = [at(begin), at(middle), at(end)];
  assert.ok(b >= 0 && m > b && e > m, `markers not found in chdb's log ${logPath} (${b}, ${m}, ${e})`);
  // every line ClickHouse logs for a query carries its id in braces
  const idOf = (i: number): string => /\{([0-9a-f-]+)\}/.exec(lines[i] ?? '')?.[1] ?? 'none';
  const markerIds = new Set([idOf(b), idOf(m)]);
  const reached = lines.slice(b + 1, m).filter((l) => l.includes('executeQuery:') && !markerIds.has(/\{([0-9a-f-]+)\}/.exec(l)?.[1] ?? ''));
  assert.deepEqual(reached.map((l) => l.slice(0, 300)), [], 'statements that reached ClickHouse');
  assert.deepEqual(executed, [], 'attempts the compiler let through');
  const controlLines = lines.slice(m + 1, e).filter((l) => l.includes('executeQuery:'));
  assert.equal(controlLines.filter((l) => l.includes(control)).length, 1, 'the control query is logged: the log works');
});
