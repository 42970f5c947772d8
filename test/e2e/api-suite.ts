/**
 * The foundation API suite, run once per host kind (embedded, and a real
 * clickhouse-server) by api-embedded.test.ts and api-remote.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';

export interface SuiteTarget {
  /** Extra server configuration (e.g. tenants on a remote host). */
  config?: () => Record<string, unknown> | undefined;
}

const SCHEMA = '`ts` DateTime `json:$.ts`, `event` String `json:$.event`, `user_id` UInt64 `json:$.user.id`, `amount` Float64 `json:$.amount`';

function ndjson(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function event(i: number): Record<string, unknown> {
  return { ts: '2024-05-01 10:00:00', event: i % 2 === 0 ? 'view' : 'click', user: { id: 1000 + i }, amount: i * 1.5 };
}

export function apiSuite(kind: string, target: SuiteTarget): void {
  describe(`foundation API on ${kind} host`, () => {
    let server: Colibri;
    let api: Api;
    let dataDir: string;

    before(async () => {
      dataDir = tempDir(`api-${kind}`);
      server = await startColibri({ dataDir, ...(target.config?.() === undefined ? {} : { config: target.config()! }) });
      api = new Api(server.url, server.token);
    });

    after(async () => {
      await server?.stop();
      removeDir(dataDir);
    });

    it('answers health checks and readiness', async () => {
      const h = await api.withToken(undefined).get('/healthz');
      assert.equal(h.status, 200);
      assert.equal(h.json.status, 'ok');
      const r = await api.withToken(undefined).get('/readyz');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.status, 'ready');
      assert.ok(h.headers.get('x-request-id'));
      assert.equal(h.headers.get('x-content-type-options'), 'nosniff');
    });

    it('writes the admin token file with mode 0600', async () => {
      const { statSync } = await import('node:fs');
      const st = statSync(`${dataDir}/admin.token`);
      assert.equal(st.mode & 0o777, 0o600);
      assert.match(server.token, /^p\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    });

    it('refuses missing and wrong tokens with 401', async () => {
      const none = await api.withToken(undefined).get('/v0/datasources');
      assert.equal(none.status, 401);
      assert.match(none.json.error, /Authentication required/);
      const wrong = await api.withToken(server.token.slice(0, -2) + 'xx').get('/v0/datasources');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, 'Invalid token');
      const garbage = await api.withToken('not-a-token').get('/v0/datasources');
      assert.equal(garbage.status, 401);
      const viaQuery = await api.withToken(undefined).get(`/v0/datasources?token=${encodeURIComponent(server.token)}`);
      assert.equal(viaQuery.status, 200);
    });

    it('creates a data source from a form body, lists and describes it', async () => {
      const r = await api.form('/v0/datasources', { name: 'events', schema: SCHEMA, engine_sorting_key: 'ts, user_id', engine_partition_key: 'toYYYYMM(ts)' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.datasource.name, 'events');
      assert.match(r.json.datasource.id, /^t_[0-9a-f]{32}$/);
      const list = await api.get('/v0/datasources');
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.datasources.map((d: { name: string }) => d.name), ['events']);
      const one = await api.get('/v0/datasources/events');
      assert.equal(one.status, 200);
      assert.deepEqual(one.json.columns.map((c: { name: string }) => c.name), ['ts', 'event', 'user_id', 'amount']);
      assert.equal(one.json.columns[2].jsonpath, '$.user.id');
      assert.equal(one.json.engine.engine_sorting_key, 'ts, user_id');
      assert.deepEqual(one.json.statistics, { row_count: 0, bytes: 0 });
      const dup = await api.form('/v0/datasources', { name: 'events', schema: SCHEMA });
      assert.equal(dup.status, 409);
    });

    it('rejects bad schemas with a 400 that names the column', async () => {
      const unknownType = await api.post(`/v0/datasources?name=bad1&schema=${encodeURIComponent('`a` String, `b` Strin')}`);
      assert.equal(unknownType.status, 400);
      assert.match(unknownType.json.error, /'b'/);
      const malformed = await api.post(`/v0/datasources?name=bad2&schema=${encodeURIComponent('`a` String,, (')}`);
      assert.equal(malformed.status, 400);
      const noSchema = await api.post('/v0/datasources?name=bad3');
      assert.equal(noSchema.status, 400);
      assert.match(noSchema.json.error, /schema/);
      const badName = await api.post(`/v0/datasources?name=${encodeURIComponent('x; DROP')}&schema=${encodeURIComponent('a String')}`);
      assert.equal(badName.status, 400);
      const list = await api.get('/v0/datasources');
      assert.deepEqual(list.json.datasources.map((d: { name: string }) => d.name), ['events']);
    });

    it('ingests events with JSONPaths and waits for them with wait=true', async () => {
      const rows = Array.from({ length: 100 }, (_, i) => event(i));
      const r = await api.post('/v0/events?name=events&wait=true', ndjson(rows));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { successful_rows: 100, quarantined_rows: 0 });
      assert.equal(await api.rowCount('events'), 100);
    });

    it('accepts gzip events and coalesces concurrent requests', async () => {
      const body = gzipSync(ndjson(Array.from({ length: 50 }, (_, i) => event(i))));
      const r = await api.post('/v0/events?name=events&wait=true', body, { 'content-encoding': 'gzip' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.successful_rows, 50);
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => api.post('/v0/events?name=events&wait=true', ndjson([event(i)]))));
      for (const m of many) assert.deepEqual(m.json, { successful_rows: 1, quarantined_rows: 0 });
      assert.equal(await api.rowCount('events'), 170);
    });

    it('sends broken lines to quarantine with the reason, never dropping them', async () => {
      const body = [JSON.stringify(event(1)), '{"ts": "2024-05-01 10:00:00", "event": "x", "user": {"id": -5}, "amount": 1}', '{not json', JSON.stringify(event(2))].join('\n');
      const r = await api.post('/v0/events?name=events&wait=true', body);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { successful_rows: 2, quarantined_rows: 2 });
      assert.equal(await api.rowCount('events'), 172);
    });

    it('answers 202 for wait=false and writes the rows soon after', async () => {
      const r = await api.post('/v0/events?name=events', ndjson([event(7), event(8)]));
      assert.equal(r.status, 202);
      assert.deepEqual(r.json, { successful_rows: 2, quarantined_rows: 0 });
      const deadline = Date.now() + 10_000;
      while ((await api.rowCount('events')) !== 174) {
        assert.ok(Date.now() < deadline, 'queued events were not written');
        await new Promise((res) => setTimeout(res, 50));
      }
    });

    it('refuses an oversized events body with 413 and writes nothing of it', async () => {
      const huge = ndjson(Array.from({ length: 40_000 }, (_, i) => ({ ...event(i), event: 'x'.repeat(300) }))); // ~14 MB
      assert.ok(huge.length > 10 * 1024 * 1024);
      const r = await api.post('/v0/events?name=events&wait=true', huge);
      assert.equal(r.status, 413, r.text);
      assert.equal(await api.rowCount('events'), 174);
    });

    it('appends CSV and NDJSON bodies, multipart files and gzip files', async () => {
      const csv = await api.form('/v0/datasources', { name: 'sales', schema: '`day` Date, `country` String, `units` UInt32, `price` Float64' });
      assert.equal(csv.status, 200, csv.text);
      const body = 'day,country,units,price\n2024-01-01,ES,3,9.5\n2024-01-02,"FR, Paris",4,1.25\n2024-01-03,DE,notanumber,1\n';
      const a = await api.post('/v0/datasources?name=sales&mode=append&format=csv', body, { 'content-type': 'text/csv' });
      assert.equal(a.status, 200, a.text);
      assert.equal(a.json.successful_rows, 2);
      assert.equal(a.json.quarantine_rows, 1);
      assert.match(String(a.json.error), /1 row in quarantine/);
      const nd = await api.post('/v0/datasources?name=sales&mode=append&format=ndjson', ndjson([{ day: '2024-02-01', country: 'IT', units: 1, price: 2 }]));
      assert.equal(nd.status, 200, nd.text);
      assert.equal(nd.json.successful_rows, 1);
      const fd = new FormData();
      fd.append('csv', new Blob([gzipSync('2024-03-01,PT,7,3.5\n2024-03-02,PT,8,3.5\n')]), 'sales.csv.gz');
      const mp = await api.post('/v0/datasources?name=sales&mode=append', fd);
      assert.equal(mp.status, 200, mp.text);
      assert.equal(mp.json.successful_rows, 2);
      assert.equal(await api.rowCount('sales'), 5);
    });

    it('replaces all rows atomically', async () => {
      const r = await api.post('/v0/datasources?name=sales&mode=replace&format=csv', '2025-01-01,US,1,1\n');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.successful_rows, 1);
      assert.equal(await api.rowCount('sales'), 1);
    });

    it('deletes rows by condition and refuses unsafe conditions', async () => {
      await api.post('/v0/datasources?name=sales&mode=append&format=csv', '2025-01-02,US,2,1\n2025-01-03,MX,3,1\n');
      const d = await api.form('/v0/datasources/sales/delete', { delete_condition: "country = 'US'" });
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.rows_affected, 2);
      assert.equal(await api.rowCount('sales'), 1);
      for (const bad of ["1 = 1; DROP TABLE x", "country IN (SELECT name FROM system.tables)", "units > (SELECT count() FROM url('http://127.0.0.1:1/x', 'CSV', 'a String'))"]) {
        const r = await api.form('/v0/datasources/sales/delete', { delete_condition: bad });
        assert.ok(r.status === 400 || r.status === 403, `${bad}: ${r.status} ${r.text}`);
      }
      assert.equal(await api.rowCount('sales'), 1);
    });

    it('truncates and drops data sources', async () => {
      const t = await api.post('/v0/datasources/sales/truncate');
      assert.equal(t.status, 205);
      assert.equal(await api.rowCount('sales'), 0);
      const d = await api.delete('/v0/datasources/sales');
      assert.equal(d.status, 204);
      assert.equal((await api.get('/v0/datasources/sales')).status, 404);
      assert.equal((await api.delete('/v0/datasources/sales')).status, 404);
    });

    it('creates scoped tokens and enforces their scopes (403)', async () => {
      const t = await api.post('/v0/tokens?name=reader&scope=DATASOURCES:READ:events');
      assert.equal(t.status, 200, t.text);
      assert.match(t.json.token, /^p\./);
      assert.deepEqual(t.json.scopes, [{ type: 'DATASOURCES:READ', resource: 'events' }]);
      const reader = api.withToken(t.json.token);
      assert.equal((await reader.get('/v0/datasources/events')).status, 200);
      const denied = await reader.post('/v0/events?name=events&wait=true', ndjson([event(1)]));
      assert.equal(denied.status, 403);
      assert.match(denied.json.error, /DATASOURCES:APPEND:events/);
      assert.equal((await reader.form('/v0/datasources', { name: 'nope', schema: 'a String' })).status, 403);
      assert.equal((await reader.post('/v0/datasources/events/truncate')).status, 403);
      assert.equal((await reader.delete('/v0/datasources/events')).status, 403);
      assert.equal((await reader.get('/v0/tokens')).status, 403);

      const appender = await api.post('/v0/tokens?name=appender&scope=DATASOURCES:APPEND:events');
      const app = api.withToken(appender.json.token);
      const ok = await app.post('/v0/events?name=events&wait=true', ndjson([event(1)]));
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await app.get('/v0/datasources')).json.datasources.length, 1);

      const tokensOnly = await api.post('/v0/tokens?name=manager&scope=TOKENS');
      const mgr = api.withToken(tokensOnly.json.token);
      assert.equal((await mgr.post('/v0/tokens?name=escalate&scope=ADMIN')).status, 403);
      assert.equal((await mgr.post('/v0/tokens?name=fine&scope=PIPES:READ:x')).status, 200);

      const list = await api.get('/v0/tokens');
      assert.deepEqual(list.json.tokens.map((x: { name: string }) => x.name).sort(), ['admin token', 'appender', 'fine', 'manager', 'reader']);
      assert.ok(!list.text.includes(t.json.token), 'token secrets are never listed');
      const bad = await api.post('/v0/tokens?name=bad&scope=DATASOURCES:WRITE:x');
      assert.equal(bad.status, 400);
      assert.equal((await api.post('/v0/tokens?name=reader&scope=TOKENS')).status, 409);

      assert.equal((await api.delete('/v0/tokens/reader')).status, 204);
      assert.equal((await reader.get('/v0/datasources/events')).status, 401);
    });

    it('answers the Query API in Tinybird\'s JSON shape and in other formats', async () => {
      const r = await api.get(`/v0/sql?q=${encodeURIComponent('SELECT event, count() AS c FROM events GROUP BY event ORDER BY event LIMIT 10')}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.meta, [
        { name: 'event', type: 'String' },
        { name: 'c', type: 'UInt64' },
      ]);
      assert.equal(r.json.rows, r.json.data.length);
      assert.ok(r.json.data.every((row: { c: unknown }) => typeof row.c === 'number'), 'UInt64 comes as a JSON number');
      assert.equal(typeof r.json.statistics.elapsed, 'number');
      assert.equal(typeof r.json.statistics.rows_read, 'number');
      assert.equal(typeof r.json.statistics.bytes_read, 'number');
      assert.ok('rows_before_limit_at_least' in r.json);
      const csv = await api.post('/v0/sql', 'SELECT DISTINCT user_id FROM events WHERE user_id < 1003 ORDER BY user_id LIMIT 3 FORMAT CSV');
      assert.equal(csv.status, 200, csv.text);
      assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
      assert.equal(csv.text, '1000\n1001\n1002\n');
      const nd = await api.form('/v0/sql', { q: 'SELECT number AS n FROM numbers(2) FORMAT JSONEachRow' });
      assert.equal(nd.text, '{"n":0}\n{"n":1}\n');
      const tpl = await api.get(`/v0/sql?q=${encodeURIComponent('%\nSELECT {{Int32(n, 1)}} AS n FORMAT JSONEachRow')}&n=5`);
      assert.equal(tpl.text, '{"n":5}\n', tpl.text);
      const badTpl = await api.get(`/v0/sql?q=${encodeURIComponent('%\nSELECT {{Int32(n, 1)}} AS n')}&n=x`);
      assert.equal(badTpl.status, 400);
      assert.match(badTpl.json.error, /'?n'?/);
      const q = await api.post('/v0/sql', 'SELECT count() AS c FROM events_quarantine FORMAT JSONEachRow');
      assert.equal(q.status, 200, q.text);
      assert.equal(JSON.parse(q.text).c, 2);
    });

    it('refuses unsafe or unknown SQL with a 4xx that names the problem', async () => {
      const cases: Array<[string, number, RegExp]> = [
        ['SELECT * FROM system.tables', 400, /system/],
        ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 400, /file/],
        ["SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", 400, /url/],
        ['SELECT 1; DROP TABLE events', 400, /one statement/],
        ['DROP TABLE events', 400, /SELECT/],
        ['INSERT INTO events VALUES (1)', 400, /SELECT/],
        ['SELECT * FROM other_db.events', 403, /other_db/],
        ['SELECT * FROM nope', 400, /Resource 'nope' not found/],
        ['SELECT 1 SETTINGS readonly = 0', 400, /readonly/],
        ['SELEC 1', 400, /SELECT|line 1/],
        ['SELECT (1', 400, /line 1/],
        ['SELECT nosuchcolumn FROM events', 400, /nosuchcolumn/],
      ];
      const before = await api.rowCount('events');
      for (const [sql, status, re] of cases) {
        const r = await api.post('/v0/sql', sql);
        assert.equal(r.status, status, `${sql}: ${r.text}`);
        assert.match(r.json.error, re, sql);
        assert.doesNotMatch(r.json.error, /ws_default_|readonly = 1/, 'no internal names or settings in errors');
      }
      assert.equal(await api.rowCount('events'), before);
    });

    it('applies read scopes and row filters to the Query API', async () => {
      const none = await api.post('/v0/tokens?name=sql_none&scope=DATASOURCES:APPEND:events');
      const denied = await api.withToken(none.json.token).post('/v0/sql', 'SELECT count() FROM events');
      assert.equal(denied.status, 403, denied.text);
      const filtered = await api.post(`/v0/tokens?name=sql_filtered&scope=${encodeURIComponent('DATASOURCES:READ:events:user_id < 1003')}`);
      assert.equal(filtered.status, 200, filtered.text);
      const f = api.withToken(filtered.json.token);
      for (const sql of [
        'SELECT max(user_id) AS m FROM events FORMAT JSONEachRow',
        'SELECT max(e.user_id) AS m FROM events AS e FORMAT JSONEachRow',
        'SELECT max(user_id) AS m FROM (SELECT * FROM events) FORMAT JSONEachRow',
        'SELECT max(user_id) AS m FROM events AS a ALL INNER JOIN (SELECT user_id FROM events) AS b USING user_id FORMAT JSONEachRow',
        'SELECT max(user_id) AS m FROM (SELECT user_id FROM events UNION ALL SELECT user_id FROM events) FORMAT JSONEachRow',
      ]) {
        const r = await f.post('/v0/sql', sql);
        assert.equal(r.status, 200, `${sql}: ${r.text}`);
        assert.ok(JSON.parse(r.text).m <= 1002, `${sql} leaked rows: ${r.text}`);
      }
      const bad = await api.post(`/v0/tokens?name=sql_bad&scope=${encodeURIComponent('DATASOURCES:READ:events:1) UNION ALL SELECT * FROM system.one WHERE (1')}`);
      assert.equal(bad.status, 400, bad.text);
    });

    it('answers unknown routes and data sources with JSON 404', async () => {
      const r = await api.get('/v0/nothing');
      assert.equal(r.status, 404);
      assert.ok(typeof r.json.error === 'string');
      const e = await api.post('/v0/events?name=nope', ndjson([event(1)]));
      assert.equal(e.status, 404);
      assert.match(e.json.error, /nope/);
    });

    it('keeps tokens and data across a graceful restart', async () => {
      const before = await api.rowCount('events');
      const code = await server.stop();
      assert.equal(code, 0, server.output());
      server = await startColibri({ dataDir, ...(target.config?.() === undefined ? {} : { config: target.config()! }) });
      assert.equal(server.token, api.token);
      api = new Api(server.url, server.token);
      assert.equal(await api.rowCount('events'), before);
      const list = await api.get('/v0/tokens');
      assert.ok(list.json.tokens.some((x: { name: string }) => x.name === 'appender'));
    });
  });
}
