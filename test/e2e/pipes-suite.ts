/**
 * Pipes, templates and endpoints, end to end, run once per host kind by
 * pipes-embedded.test.ts and pipes-remote.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';

export interface PipesTarget {
  config?: () => Record<string, unknown> | undefined;
}

const SCHEMA = '`ts` DateTime, `country` String, `user_id` UInt32, `amount` Float64';

function rows(): string {
  const out: string[] = [];
  const countries = ['ES', 'FR', 'DE', 'US'];
  for (let i = 0; i < 40; i++) {
    out.push(JSON.stringify({ ts: `2024-05-${String(1 + (i % 28)).padStart(2, '0')} 10:00:00`, country: countries[i % 4], user_id: i, amount: i * 10 }));
  }
  return out.join('\n') + '\n';
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

export function pipesSuite(kind: string, target: PipesTarget): void {
  describe(`pipes and endpoints on ${kind} host`, () => {
    let server: Colibri;
    let api: Api;
    let dataDir: string;

    before(async () => {
      dataDir = tempDir(`pipes-${kind}`);
      const config = target.config?.();
      server = await startColibri({ dataDir, ...(config === undefined ? {} : { config }) });
      api = new Api(server.url, server.token);
      const ds = await api.form('/v0/datasources', { name: 'sales', schema: SCHEMA });
      assert.equal(ds.status, 200, ds.text);
      const ev = await api.post('/v0/events?name=sales&wait=true', rows());
      assert.equal(ev.json.successful_rows, 40, ev.text);
    });

    after(async () => {
      await server?.stop();
      removeDir(dataDir);
    });

    it('creates a pipe from name + sql and one from a JSON body with several nodes', async () => {
      const simple = await api.form('/v0/pipes', { name: 'all_sales', sql: 'SELECT * FROM sales' });
      assert.equal(simple.status, 200, simple.text);
      assert.equal(simple.json.nodes[0].name, 'all_sales_0');
      assert.deepEqual(simple.json.nodes[0].dependencies, ['sales']);
      const body = {
        name: 'by_country',
        description: 'Sales per country',
        nodes: [
          { name: 'filtered', sql: "%\nSELECT * FROM sales WHERE amount >= {{Float64(min_amount, 0, description='Smallest amount')}} {% if defined(country) %} AND country = {{String(country)}} {% end %}" },
          { name: 'agg', sql: 'SELECT country, count() AS n, sum(amount) AS total FROM filtered GROUP BY country ORDER BY country' },
          { name: 'with_scalar', sql: 'WITH (SELECT max(total) FROM agg) AS top SELECT country, total, total = top AS is_top FROM agg ORDER BY country' },
        ],
      };
      const r = await api.post('/v0/pipes', JSON.stringify(body), { 'content-type': 'application/json' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.nodes.map((n: { name: string }) => n.name), ['filtered', 'agg', 'with_scalar']);
      assert.deepEqual(r.json.nodes[1].dependencies, ['filtered']);
      const list = await api.get('/v0/pipes');
      assert.deepEqual(list.json.pipes.map((p: { name: string }) => p.name), ['all_sales', 'by_country']);
    });

    it('publishes a node and serves it as JSON, CSV, CSV with names and NDJSON', async () => {
      const pub = await api.post('/v0/pipes/by_country/nodes/with_scalar/endpoint');
      assert.equal(pub.status, 200, pub.text);
      assert.equal(pub.json.type, 'endpoint');
      const j = await api.get('/v0/pipes/by_country.json');
      assert.equal(j.status, 200, j.text);
      assert.deepEqual(j.json.meta.map((m: { name: string }) => m.name), ['country', 'total', 'is_top']);
      assert.deepEqual(j.json.data.map((d: { country: string }) => d.country), ['DE', 'ES', 'FR', 'US']);
      assert.equal(j.json.data.filter((d: { is_top: number }) => d.is_top === 1).length, 1);
      assert.equal(j.json.rows, 4);
      assert.ok(j.json.statistics.rows_read >= 40);
      const csv = await api.get('/v0/pipes/by_country.csv?country=ES');
      assert.equal(csv.status, 200, csv.text);
      assert.match(csv.text, /^"ES",\d+(\.\d+)?,1\n$/);
      const named = await api.get('/v0/pipes/by_country.csvwithnames?country=ES');
      assert.match(named.text, /^"country","total","is_top"\n"ES"/);
      const nd = await api.get('/v0/pipes/by_country.ndjson?min_amount=300');
      const lines = nd.text.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(lines.length > 0 && lines.every((l) => l.total >= 300));
      const post = await api.post('/v0/pipes/by_country.json', JSON.stringify({ country: 'FR', min_amount: 0 }), { 'content-type': 'application/json' });
      assert.equal(post.status, 200, post.text);
      assert.deepEqual(post.json.data.map((d: { country: string }) => d.country), ['FR']);
    });

    it('describes parameters and serves an OpenAPI document', async () => {
      const p = await api.get('/v0/pipes/by_country');
      assert.equal(p.status, 200);
      const names = p.json.params.map((x: { name: string }) => x.name);
      assert.deepEqual(names.sort(), ['country', 'min_amount']);
      const minAmount = p.json.params.find((x: { name: string }) => x.name === 'min_amount');
      assert.equal(minAmount.type, 'Float64');
      assert.equal(minAmount.description, 'Smallest amount');
      assert.equal(minAmount.required, false);
      const doc = await api.get('/v0/pipes/openapi.json');
      assert.equal(doc.status, 200);
      assert.equal(doc.json.openapi, '3.0.3');
      const op = doc.json.paths['/v0/pipes/by_country.json'].get;
      assert.ok(op.parameters.some((x: { name: string }) => x.name === 'min_amount'));
      assert.equal(doc.json.paths['/v0/pipes/all_sales.json'], undefined, 'unpublished pipes are not listed');
    });

    it('answers bad parameter values with a 400 that names the parameter and type', async () => {
      const bad = await api.get('/v0/pipes/by_country.json?min_amount=lots');
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.json.error, /min_amount/);
      assert.match(bad.json.error, /Float64/);
      const req = await api.form('/v0/pipes', { name: 'needs_user', sql: '%\nSELECT * FROM sales WHERE user_id = {{UInt32(uid, required=True)}}' });
      assert.equal(req.status, 200, req.text);
      await api.post('/v0/pipes/needs_user/nodes/needs_user_0/endpoint');
      const missing = await api.get('/v0/pipes/needs_user.json');
      assert.equal(missing.status, 400, missing.text);
      assert.match(missing.json.error, /uid/);
      const neg = await api.get('/v0/pipes/needs_user.json?uid=-1');
      assert.equal(neg.status, 400, neg.text);
      const ok = await api.get('/v0/pipes/needs_user.json?uid=3');
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.rows, 1);
    });

    it('keeps injection attempts through parameters harmless', async () => {
      const attempts = [
        "ES' OR '1'='1",
        "ES\\' OR 1=1 --",
        'ES"; DROP TABLE sales; --',
        "ES' UNION ALL SELECT * FROM system.tables --",
        '{{String(x)}}',
        '{% if 1 %}x{% end %}',
        "ES /* comment */ '",
        'ＥＳ',
        'ES\u0000',
        'x'.repeat(200_000),
      ];
      for (const value of attempts) {
        const r = await api.post('/v0/pipes/by_country.json', JSON.stringify({ country: value }), { 'content-type': 'application/json' });
        assert.ok(r.status === 200 || r.status === 400, `${value.slice(0, 40)}: ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status === 200) assert.equal(r.json.rows, 0, `${value.slice(0, 40)} matched rows: ${r.text.slice(0, 200)}`);
      }
      assert.equal(await api.rowCount('sales'), 40);
    });

    it('reads other pipes\' endpoints and refuses unpublished ones', async () => {
      const r = await api.form('/v0/pipes', { name: 'top_country', sql: 'SELECT country FROM by_country ORDER BY total DESC LIMIT 1' });
      assert.equal(r.status, 200, r.text);
      await api.post('/v0/pipes/top_country/nodes/top_country_0/endpoint');
      const top = await api.get('/v0/pipes/top_country.json?country=DE');
      assert.equal(top.status, 200, top.text);
      assert.deepEqual(top.json.data, [{ country: 'DE' }]);
      const bad = await api.form('/v0/pipes', { name: 'reads_unpublished', sql: 'SELECT * FROM all_sales' });
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.json.error, /all_sales/);
      const unknown = await api.form('/v0/pipes', { name: 'reads_nothing', sql: 'SELECT * FROM nowhere' });
      assert.equal(unknown.status, 400);
      assert.match(unknown.json.error, /Resource 'nowhere' not found/);
    });

    it('adds, changes and deletes nodes, refusing changes that break published endpoints', async () => {
      const add = await api.post('/v0/pipes/all_sales/nodes?name=big', 'SELECT * FROM all_sales_0 WHERE amount > 100');
      assert.equal(add.status, 200, add.text);
      assert.equal(add.json.name, 'big');
      const cycle = await api.request('PUT', '/v0/pipes/all_sales/nodes/all_sales_0', 'SELECT * FROM big');
      assert.equal(cycle.status, 400, cycle.text);
      assert.match(cycle.json.error, /all_sales_0|big/);
      const badCol = await api.request('PUT', '/v0/pipes/all_sales/nodes/big', 'SELECT nosuchcolumn FROM all_sales_0');
      assert.equal(badCol.status, 400, badCol.text);
      assert.match(badCol.json.error, /nosuchcolumn/);
      // by_country's endpoint is read by top_country: renaming its output column would break it.
      const breaking = await api.request('PUT', '/v0/pipes/by_country/nodes/with_scalar', 'SELECT country AS c, total FROM agg');
      assert.equal(breaking.status, 400, breaking.text);
      assert.match(breaking.json.error, /top_country/);
      const still = await api.get('/v0/pipes/top_country.json');
      assert.equal(still.status, 200, still.text);
      const del = await api.delete('/v0/pipes/all_sales/nodes/big');
      assert.equal(del.status, 204);
      assert.equal((await api.delete('/v0/pipes/by_country')).status, 409, 'a pipe read by another one is not deleted');
      assert.equal((await api.delete('/v0/datasources/sales')).status, 409, 'a data source read by pipes is not dropped');
      const unpub = await api.delete('/v0/pipes/by_country/nodes/with_scalar/endpoint');
      assert.equal(unpub.status, 409);
    });

    it('runs q= over the endpoint result and nothing the token cannot read', async () => {
      const q = await api.get(`/v0/pipes/by_country.json?q=${encodeURIComponent('SELECT count() AS c FROM _')}`);
      assert.equal(q.status, 200, q.text);
      assert.deepEqual(q.json.data, [{ c: 4 }]);
      const t = await api.post('/v0/tokens?name=by_country_reader&scope=PIPES:READ:by_country');
      const reader = api.withToken(t.json.token);
      const ok = await reader.get('/v0/pipes/by_country.json');
      assert.equal(ok.status, 200, ok.text);
      for (const sql of ['SELECT * FROM sales', 'SELECT * FROM _ UNION ALL SELECT country, amount, 0 FROM sales', 'SELECT * FROM system.tables', "SELECT * FROM file('/etc/passwd')", 'SELECT * FROM all_sales']) {
        const r = await reader.get(`/v0/pipes/by_country.json?q=${encodeURIComponent(sql)}`);
        assert.ok(r.status === 403 || r.status === 400, `${sql}: ${r.status} ${r.text}`);
      }
      assert.equal((await reader.get('/v0/pipes/top_country.json')).status, 403);
      assert.equal((await reader.get('/v0/sql?q=SELECT%201')).status, 200);
      assert.equal((await reader.post('/v0/pipes/by_country/nodes?name=x', 'SELECT 1')).status, 403);
    });

    it('applies JWT fixed_params and row filters inside pipes', async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const jwt = await api.post(
        `/v0/tokens?expiration_time=${exp}`,
        JSON.stringify({ name: 'front', scopes: [{ type: 'PIPES:READ', resource: 'by_country', fixed_params: { country: 'ES' } }] }),
        { 'content-type': 'application/json' },
      );
      assert.equal(jwt.status, 200, jwt.text);
      const front = api.withToken(jwt.json.token);
      for (const path of ['/v0/pipes/by_country.json', '/v0/pipes/by_country.json?country=FR', '/v0/pipes/by_country.json?country=FR&q=SELECT%20*%20FROM%20_']) {
        const r = await front.get(path);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.data.map((d: { country: string }) => d.country), ['ES'], path);
      }
      const post = await front.post('/v0/pipes/by_country.json', JSON.stringify({ country: 'DE' }), { 'content-type': 'application/json' });
      assert.deepEqual(post.json.data.map((d: { country: string }) => d.country), ['ES']);
      const rls = await api.post(`/v0/tokens?name=de_only&scope=PIPES:READ:by_country&scope=PIPES:READ:top_country&scope=${encodeURIComponent("DATASOURCES:READ:sales:country = 'DE'")}`);
      assert.equal(rls.status, 200, rls.text);
      const de = api.withToken(rls.json.token);
      const all = await de.get('/v0/pipes/by_country.json');
      assert.deepEqual(all.json.data.map((d: { country: string }) => d.country), ['DE']);
      const other = await de.get('/v0/pipes/by_country.json?country=FR');
      assert.deepEqual(other.json.data, []);
      const nested = await de.get('/v0/pipes/top_country.json');
      assert.deepEqual(nested.json.data, [{ country: 'DE' }], 'the filter applies through pipes read by pipes');
      const viaQ = await de.get(`/v0/pipes/by_country.json?q=${encodeURIComponent('SELECT count() AS c FROM _')}`);
      assert.deepEqual(viaQ.json.data, [{ c: 1 }]);
    });

    it('streams a large result with bounded server memory', async () => {
      const big = await api.form('/v0/pipes', { name: 'big_result', sql: "SELECT number, toString(number) AS s, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' AS pad FROM numbers(1000000)" });
      assert.equal(big.status, 200, big.text);
      await api.post('/v0/pipes/big_result/nodes/big_result_0/endpoint');
      const pid = server.proc.pid!;
      const before = rssKb(pid);
      let peak = before;
      const timer = setInterval(() => {
        peak = Math.max(peak, rssKb(pid));
      }, 20);
      const res = await fetch(`${server.url}/v0/pipes/big_result.csv`, { headers: { authorization: `Bearer ${server.token}` } });
      assert.equal(res.status, 200);
      let bytes = 0;
      let newlines = 0;
      let chunks = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        bytes += buf.length;
        for (let at = buf.indexOf(10); at >= 0; at = buf.indexOf(10, at + 1)) newlines++;
        if (++chunks % 16 === 0) await new Promise((r) => setImmediate(r)); // let the server run ahead of us
      }
      clearInterval(timer);
      assert.equal(newlines, 1_000_000);
      assert.ok(bytes > 100_000_000, `expected > 100 MB, got ${bytes}`);
      const growthMb = (peak - before) / 1024;
      assert.ok(growthMb < 80, `server RSS grew by ${growthMb.toFixed(1)} MB while streaming ${(bytes / 1e6).toFixed(0)} MB`);
    });
  });
}
