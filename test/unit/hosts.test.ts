/**
 * The host layer against both engines: an embedded chdb child and a real
 * clickhouse-server (18.16). Same suite for both, then engine-specific cases.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedHost } from '../../src/clickhouse/embedded-host.js';
import { RemoteHost } from '../../src/clickhouse/remote-host.js';
import { HostQueryError, HostUnavailableError } from '../../src/clickhouse/host.js';
import type { Host } from '../../src/clickhouse/host.js';
import { quoteIdentifier, quoteString } from '../../src/clickhouse/sql.js';
import { freePort, startClickHouseServer } from '../helpers/clickhouse-server.js';
import type { ClickHouseServer } from '../helpers/clickhouse-server.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream) s += c.toString();
  return s;
}

async function rejectsWith(p: Promise<unknown>, cls: typeof HostQueryError | typeof HostUnavailableError, code?: number): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (code !== undefined) assert.equal((err as HostQueryError).code, code, (err as Error).message);
    return err as Error;
  }
  assert.fail('expected a rejection');
}

/** The behaviour both engines must share. */
function commonSuite(label: string, getHost: () => Host): void {
  const db = `colibri_${label}`;
  test(`${label}: DDL, inserts (JSONEachRow, CSV) and reads (JSON, CSV, JSONEachRow)`, async () => {
    const h = getHost();
    await h.command(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(db)}`);
    await h.command(`CREATE TABLE ${quoteIdentifier(db)}.events (id UInt64, name String, v Int64) ENGINE = MergeTree ORDER BY id`);
    await h.insert(`${db}.events`, '{"id":1,"name":"a\'b","v":-1}\n{"id":2,"name":"b","v":2}\n', 'JSONEachRow');
    await h.insert(`${db}.events`, Buffer.from('3,c\n4,"d,e"\n'), 'CSV', { columns: ['id', 'name'] });
    const rows = await h.queryRows<{ id: number; name: string; v: number }>(`SELECT id, name, v FROM ${db}.events ORDER BY id`);
    assert.deepEqual(rows, [
      { id: 1, name: "a'b", v: -1 },
      { id: 2, name: 'b', v: 2 },
      { id: 3, name: 'c', v: 0 },
      { id: 4, name: 'd,e', v: 0 },
    ]);
    const csv = await h.read(`SELECT id, name FROM ${db}.events WHERE name = ${quoteString("a'b")} ORDER BY id`, 'CSV');
    assert.equal(await readAll(csv.stream), '1,"a\'b"\n');
    assert.ok(csv.queryId.length > 0);
    const json = JSON.parse(await readAll((await h.read(`SELECT id, v FROM ${db}.events ORDER BY id`, 'JSON')).stream)) as { data: unknown[]; rows: number };
    assert.equal(json.rows, 4);
    assert.deepEqual(json.data[0], { id: 1, v: -1 });
    const ndjson = await readAll((await h.read(`SELECT count() AS n FROM ${db}.events`, 'JSONEachRow')).stream);
    assert.deepEqual(JSON.parse(ndjson), { n: 4 });
  });

  test(`${label}: ClickHouse errors map to HostQueryError with the code`, async () => {
    const h = getHost();
    await rejectsWith(h.queryRows(`SELECT * FROM ${db}.missing`), HostQueryError, 60);
    await rejectsWith(h.command('SELEC 1'), HostQueryError, 62);
    await rejectsWith(h.read(`SELECT * FROM ${db}.missing`, 'CSV'), HostQueryError, 60);
    await rejectsWith(h.insert(`${db}.events`, '{"id":"x"}\n', 'JSONEachRow'), HostQueryError);
  });

  test(`${label}: the reader cannot run DDL or insert`, async () => {
    const h = getHost();
    await rejectsWith(h.read(`DROP TABLE ${db}.events`, 'CSV'), HostQueryError, 164);
    await rejectsWith(h.read(`CREATE TABLE ${db}.x (a UInt8) ENGINE = Memory`, 'CSV'), HostQueryError, 164);
    await rejectsWith(h.read(`INSERT INTO ${db}.events (id) SELECT 99`, 'CSV'), HostQueryError, 164);
    await rejectsWith(h.read(`SELECT * FROM (SELECT 1 SETTINGS readonly = 0)`, 'CSV'), HostQueryError, 164);
    const rows = await h.queryRows<{ n: number }>(`SELECT count() AS n FROM ${db}.events`);
    assert.equal(rows[0]?.n, 4);
  });

  test(`${label}: settings are applied to reads`, async () => {
    const h = getHost();
    await rejectsWith(
      h.read('SELECT number FROM system.numbers LIMIT 100', 'CSV', { settings: { max_result_rows: 10, result_overflow_mode: 'throw', wait_end_of_query: 1 } }),
      HostQueryError,
      396,
    );
    const ok = await readAll((await h.read('SELECT number FROM system.numbers LIMIT 5', 'CSV', { settings: { max_result_rows: 10 } })).stream);
    assert.equal(ok, '0\n1\n2\n3\n4\n');
  });

  test(`${label}: a large result streams without being buffered`, async () => {
    const h = getHost();
    const rssBefore = process.memoryUsage().rss;
    const r = await h.read("SELECT number, concat('row-', toString(number), '-', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx') FROM system.numbers LIMIT 2000000", 'CSV');
    let lines = 0;
    let bytes = 0;
    let peak = rssBefore;
    for await (const chunk of r.stream) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines += 1;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    assert.equal(lines, 2_000_000);
    assert.ok(bytes > 150_000_000, `got ${bytes} bytes`);
    // ~160 MB of CSV went through; buffering it would show as growth of that order.
    assert.ok(peak - rssBefore < 64_000_000, `RSS grew by ${peak - rssBefore} bytes`);
  });

  test(`${label}: killQuery stops a running read`, async () => {
    const h = getHost();
    const queryId = `kill-${label}-${Date.now()}`;
    const r = await h.read('SELECT number FROM system.numbers', 'TabSeparated', { queryId, settings: { max_block_size: 8192 } });
    const started = Date.now();
    let killed = false;
    let failure: unknown;
    try {
      for await (const _chunk of r.stream) {
        if (!killed) {
          killed = true;
          await h.killQuery(queryId);
        }
        if (Date.now() - started > 15_000) assert.fail('query still streaming 15 s after KILL QUERY');
      }
    } catch (err) {
      failure = err;
    }
    assert.ok(killed);
    assert.ok(Date.now() - started < 15_000);
    // Killed streams end with an error (or end early): never an endless result.
    if (failure !== undefined) assert.ok(failure instanceof HostQueryError || failure instanceof HostUnavailableError, String(failure));
  });

  test(`${label}: cleanup`, async () => {
    const h = getHost();
    await h.command(`DROP DATABASE IF EXISTS ${quoteIdentifier(db)}`);
    assert.equal(await h.ping(), true);
    assert.equal(h.health().state, 'up');
  });
}

describe('embedded host (chdb child process)', () => {
  let dir = '';
  let host: EmbeddedHost | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'colibri-emb-'));
    host = new EmbeddedHost({ name: 'emb-test', dataDir: join(dir, 'data') });
    await host.start();
  });
  after(async () => {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const get = (): EmbeddedHost => host as EmbeddedHost;

  commonSuite('embedded', get);

  test('embedded: the reader cannot use file(), INTO OUTFILE or several statements', async () => {
    const h = get();
    await rejectsWith(h.read("SELECT * FROM file('/etc/passwd', 'CSV', 'a String')", 'CSV'), HostQueryError, 164);
    await rejectsWith(h.read(`SELECT 1 INTO OUTFILE ${quoteString(join(dir, 'out.txt'))}`, 'CSV'), HostQueryError, 164);
    await rejectsWith(h.read('SELECT 1; DROP DATABASE system', 'CSV'), HostQueryError, 62);
    await rejectsWith(h.read("SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", 'CSV'), HostQueryError, 164);
  });

  test('embedded: kill -9 of the child gives a fast HostUnavailableError, then an automatic restart with data intact', async () => {
    const h = get();
    await h.command('CREATE DATABASE IF NOT EXISTS crash');
    await h.command('CREATE TABLE IF NOT EXISTS crash.t (id UInt32) ENGINE = MergeTree ORDER BY id');
    await h.insert('crash.t', '1\n2\n3\n', 'CSV');
    const pid = h.pid;
    assert.ok(pid !== undefined);
    const inflight = h.read('SELECT sleepEachRow(0.5) FROM system.numbers LIMIT 100', 'CSV', { settings: { wait_end_of_query: 1, max_block_size: 1 } });
    const settled = inflight.then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const err = await settled;
    assert.ok(err instanceof HostUnavailableError, String(err));
    assert.ok(Date.now() - t0 < 1000, `in-flight request failed after ${Date.now() - t0} ms`);
    assert.ok((err as HostUnavailableError).retryAfterSeconds >= 1);
    const t1 = Date.now();
    await rejectsWith(h.queryRows('SELECT 1'), HostUnavailableError);
    assert.ok(Date.now() - t1 < 1000);
    const deadline = Date.now() + 30_000;
    // The supervisor may not have seen the exit yet: wait for a new child that is up.
    while (h.health().state !== 'up' || h.pid === pid) {
      assert.ok(Date.now() < deadline, 'child not restarted within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.notEqual(h.pid, pid);
    assert.match(h.health().lastError ?? '', /exited/);
    const rows = await h.queryRows<{ n: number }>('SELECT count() AS n FROM crash.t');
    assert.equal(rows[0]?.n, 3);
    await h.command('DROP DATABASE crash');
  });

  test('embedded: insert throughput through the HTTP interface (200k JSONEachRow rows)', async (t) => {
    const h = get();
    await h.command('CREATE DATABASE IF NOT EXISTS bench');
    await h.command('CREATE TABLE bench.t (id UInt64, ts DateTime, name String, payload String, v Float64) ENGINE = MergeTree ORDER BY id');
    const filler = 'x'.repeat(170);
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i += 1) {
      lines.push(JSON.stringify({ id: i, ts: '2024-01-01 00:00:00', name: `name-${i}`, payload: filler, v: i / 3 }));
    }
    const payload = Buffer.from(lines.join('\n') + '\n');
    const t0 = performance.now();
    await h.insert('bench.t', payload, 'JSONEachRow');
    const ms = performance.now() - t0;
    const rows = await h.queryRows<{ n: number }>('SELECT count() AS n FROM bench.t');
    assert.equal(rows[0]?.n, 200_000);
    t.diagnostic(`200k rows, ${(payload.length / 1e6).toFixed(1)} MB JSONEachRow via embedded HTTP: ${ms.toFixed(0)} ms`);
    await h.command('DROP DATABASE bench');
  });

  test('embedded: close stops the child', async () => {
    const dir2 = await mkdtemp(join(tmpdir(), 'colibri-emb2-'));
    const h = new EmbeddedHost({ name: 'emb-close', dataDir: dir2 });
    try {
      await h.start();
      const pid = h.pid as number;
      await h.close();
      assert.throws(() => process.kill(pid, 0));
      await rejectsWith(h.queryRows('SELECT 1'), HostUnavailableError);
    } finally {
      await h.close();
      await rm(dir2, { recursive: true, force: true });
    }
  });
});

describe('remote host (clickhouse-server)', () => {
  let server: ClickHouseServer | undefined;
  let host: RemoteHost | undefined;
  before(async () => {
    server = await startClickHouseServer();
    host = new RemoteHost({ name: 'remote-test', urls: [server.url], user: server.user, password: server.password, readUser: server.readUser, readPassword: server.readPassword });
    await host.start();
  });
  after(async () => {
    await host?.close();
    await server?.stop();
  });
  const get = (): RemoteHost => host as RemoteHost;

  commonSuite('remote', get);

  test('remote: without a reader user, reads still refuse DDL and inserts', async () => {
    const s = server as ClickHouseServer;
    const h = new RemoteHost({ name: 'remote-noreader', urls: [s.url], user: s.user, password: s.password });
    try {
      await rejectsWith(h.read('CREATE DATABASE nope', 'CSV'), HostQueryError, 164);
      assert.equal(await readAll((await h.read('SELECT 1', 'CSV', { settings: { max_result_rows: 5 } })).stream), '1\n');
    } finally {
      await h.close();
    }
  });

  test('remote: fails over to the next URL, and a dead server gives HostUnavailableError', async () => {
    const s = server as ClickHouseServer;
    const dead = `http://127.0.0.1:${await freePort()}`;
    const h = new RemoteHost({ name: 'remote-failover', urls: [dead, s.url], user: s.user, password: s.password });
    const down = new RemoteHost({ name: 'remote-down', urls: [dead], user: s.user, password: 'pw-never-shown' });
    try {
      assert.deepEqual(await h.queryRows('SELECT 1 AS x'), [{ x: 1 }]);
      const err = await rejectsWith(down.queryRows('SELECT 1'), HostUnavailableError);
      assert.ok(!err.message.includes('pw-never-shown'));
      assert.equal(down.health().state, 'down');
      assert.ok(!(down.health().lastError ?? '').includes('pw-never-shown'));
      assert.equal(await down.ping(), false);
    } finally {
      await h.close();
      await down.close();
    }
  });

  test('remote: wrong password is a HostQueryError (auth), not a hang', async () => {
    const s = server as ClickHouseServer;
    const h = new RemoteHost({ name: 'remote-badpw', urls: [s.url], user: s.user, password: 'wrong-secret' });
    try {
      const err = await rejectsWith(h.queryRows('SELECT 1'), HostQueryError);
      assert.ok(!err.message.includes('wrong-secret'));
    } finally {
      await h.close();
    }
  });
});

describe('sql quoting', () => {
  test('quoteIdentifier and quoteString escape backslashes, quotes and control characters', () => {
    assert.equal(quoteIdentifier('a`b\\c'), '`a\\`b\\\\c`');
    assert.equal(quoteString("it's\n\\\t\0\x01"), "'it\\'s\\n\\\\\\t\\0\\x01'");
    assert.throws(() => quoteIdentifier(''));
  });
});
