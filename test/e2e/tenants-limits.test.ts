/**
 * Per-tenant and per-workspace limits on a real clickhouse-server: concurrency with a
 * bounded queue (429 + Retry-After), the queue's max wait, the time limit (the query
 * is killed on the host, checked in the host's system.processes), result size, insert rate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { queryDirect } from '../helpers/clickhouse-cluster.js';

describe('tenant limits', () => {
  let ch: ClickHouseServer;
  let server: Colibri;
  let dataDir: string;
  let api: Api;
  let slow: Api;

  before(async () => {
    ch = await startClickHouseServer();
    dataDir = tempDir('limits');
    server = await startColibri({
      dataDir,
      config: {
        tenants: [
          {
            slug: 'lim',
            host: { kind: 'remote', urls: [ch.url], user: ch.user, password: ch.password, readUser: ch.readUser, readPassword: ch.readPassword },
            workspaces: ['main', 'slow'],
            limits: {
              maxConcurrentQueries: 2,
              maxQueuedQueries: 2,
              maxQueueWaitMs: 3000,
              maxExecutionTime: 1,
              maxResultRows: 100,
              maxResultBytes: 20000,
              insertsPerSecond: 3,
              workspaces: { slow: { maxConcurrentQueries: 1, maxQueuedQueries: 5, maxQueueWaitMs: 400, maxExecutionTime: 5 } },
            },
          },
        ],
      },
    });
    api = new Api(server.url, server.token);
    slow = new Api(server.url, readFileSync(path.join(dataDir, 'tokens', 'lim.slow.token'), 'utf8').trim());
  });

  after(async () => {
    await server?.stop();
    await ch?.stop();
    if (dataDir !== undefined) removeDir(dataDir);
  });

  const sql = (a: Api, q: string) => a.get(`/v0/sql?q=${encodeURIComponent(q)}`);

  it('runs at most maxConcurrentQueries, queues maxQueuedQueries, refuses the rest at once with 429', async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const r = await sql(api, `SELECT sleep(0.6) + ${i} AS x`);
        return { status: r.status, ms: Date.now() - started, retry: r.headers.get('retry-after'), error: r.json?.error as string | undefined };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok.length, 4, JSON.stringify(results));
    assert.equal(refused.length, 3, JSON.stringify(results));
    for (const r of refused) {
      assert.ok(r.ms < 500, `refused at once, not after ${r.ms} ms`);
      assert.equal(r.retry, '1');
      assert.match(r.error!, /Too many concurrent queries/);
    }
    // Two ran first, the two queued ran after them.
    assert.ok(Math.max(...ok.map((r) => r.ms)) >= 1100, JSON.stringify(ok));
  });

  it('refuses a queued query after the workspace max wait (429 + Retry-After)', async () => {
    const first = sql(slow, 'SELECT sleep(2) AS x');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const second = await sql(slow, 'SELECT 1 AS y');
    const waited = Date.now() - t0;
    assert.equal(second.status, 429, second.text);
    assert.ok(second.headers.get('retry-after'));
    assert.ok(waited >= 350 && waited < 1500, `waited ${waited} ms`);
    assert.equal((await first).status, 200);
    // The other workspace has its own gate: not blocked by the slow one.
    assert.equal((await sql(api, 'SELECT 1 AS z')).status, 200);
  });

  it('kills a query over max_execution_time on the host (KILL QUERY), answering 408', async () => {
    const marker = 987654321;
    const t0 = Date.now();
    const pending = sql(api, `SELECT count() AS c FROM numbers(100000000000) WHERE sipHash64(number) = ${marker}`);
    let seen = false;
    const find = async () => queryDirect(ch.url, ch.user, ch.password, `SELECT query_id FROM system.processes WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.processes%'`);
    while (!seen && Date.now() - t0 < 900) {
      seen = (await find()).length > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen, 'the query ran on the host');
    const r = await pending;
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 408, r.text);
    assert.match(r.json.error, /killed on the host/);
    // ClickHouse's own limit is 1 + 2 s: the query must be gone well before that.
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
    const deadline = Date.now() + 1000;
    let rows = await find();
    while (rows.length > 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      rows = await find();
    }
    assert.deepEqual(rows, [], 'no longer running on the host');
    assert.ok(Date.now() - t0 < 2900, 'killed before the host would have stopped it by itself');
  });

  it('enforces max_result_rows and max_result_bytes', async () => {
    const rows = await sql(api, 'SELECT number FROM numbers(1000)');
    assert.equal(rows.status, 400, rows.text);
    assert.match(rows.json.error, /[Ll]imit for result exceeded|max rows/);
    const fits = await sql(api, 'SELECT number FROM numbers(100)');
    assert.equal(fits.status, 200, fits.text);
    const bytes = await sql(api, `SELECT number, concat(toString(number), '${'x'.repeat(500)}') AS pad FROM numbers(60)`);
    assert.equal(bytes.status, 400, bytes.text);
    assert.match(bytes.json.error, /[Ll]imit for result exceeded|max bytes/);
  });

  it('limits insert requests per second with 429 + Retry-After', async () => {
    const ds = await api.form('/v0/datasources', { name: 'ev', schema: '`n` UInt64 `json:$.n`' });
    assert.equal(ds.status, 200, ds.text);
    await new Promise((r) => setTimeout(r, 1000));
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => api.post('/v0/events?name=ev&wait=true', JSON.stringify({ n: i }) + '\n')));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429], results.map((r) => r.text).join('\n'));
    assert.equal(results.find((r) => r.status === 429)!.headers.get('retry-after'), '1');
  });
});
