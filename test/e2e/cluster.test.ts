/**
 * A tenant on a two-shard ClickHouse cluster (two clickhouse-server processes and a
 * ZooKeeper for distributed DDL): data sources are local tables on every shard plus a
 * Distributed table; rows appended through Colibri land on both shards, and SQL and
 * endpoints answer over all of them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';
import { startClickHouseCluster, startZooKeeper, type ClickHouseCluster, type ZooKeeper } from '../helpers/clickhouse-cluster.js';

describe('tenant on a two-shard cluster', () => {
  let zk: ZooKeeper;
  let cluster: ClickHouseCluster;
  let server: Colibri;
  let dataDir: string;
  let api: Api;
  let database: string;

  before(async () => {
    zk = await startZooKeeper();
    cluster = await startClickHouseCluster(zk, 2, 'colibri_test');
    dataDir = tempDir('cluster');
    server = await startColibri({ dataDir });
    const op = new Api(server.url, readFileSync(path.join(dataDir, 'operator.token'), 'utf8').trim());
    const r = await op.post(
      '/v0/admin/tenants',
      JSON.stringify({
        slug: 'big',
        host: { kind: 'remote', urls: [cluster.nodes[0]!.url, cluster.nodes[1]!.url], cluster: cluster.name, user: cluster.user, password: cluster.password, readUser: cluster.readUser, readPassword: cluster.readPassword },
      }),
      { 'content-type': 'application/json' },
    );
    assert.equal(r.status, 201, r.text);
    api = new Api(server.url, r.json.tokens.default);
    database = r.json.tenant.workspaces[0].database;
  });

  after(async () => {
    await server?.stop();
    await cluster?.stop();
    await zk?.stop();
    if (dataDir !== undefined) removeDir(dataDir);
  });

  it('provisions the workspace on every shard (ON CLUSTER)', async () => {
    for (const i of [0, 1]) {
      const dbs = (await cluster.query(i, 'SELECT name FROM system.databases')).map((r) => r.name);
      assert.ok(dbs.includes(database) && dbs.includes(`${database}__shard`) && dbs.includes('colibri'), `node ${i}: ${dbs.join(',')}`);
    }
  });

  it('appends rows through Colibri onto both shards; SQL and endpoints answer over all of them', async () => {
    const ds = await api.form('/v0/datasources', { name: 'hits', schema: '`id` UInt64 `json:$.id`, `page` String `json:$.page`', engine_sorting_key: 'id' });
    assert.equal(ds.status, 200, ds.text);
    for (const i of [0, 1]) {
      const engines = await cluster.query(i, `SELECT database, name, engine FROM system.tables WHERE name = 'hits' ORDER BY database`);
      assert.deepEqual(engines.map((e) => e.engine), ['Distributed', 'MergeTree'], `node ${i}`);
    }
    const rows = Array.from({ length: 1000 }, (_, id) => JSON.stringify({ id, page: `/p${id % 7}` })).join('\n') + '\n';
    const ev = await api.post('/v0/events?name=hits&wait=true', rows);
    assert.equal(ev.status, 200, ev.text);
    const csv = Array.from({ length: 200 }, (_, i) => `${1000 + i},/csv`).join('\n') + '\n';
    const app = await api.post('/v0/datasources?name=hits&mode=append&format=csv', csv, { 'content-type': 'text/csv' });
    assert.equal(app.status, 200, app.text);
    const perShard = await Promise.all([0, 1].map(async (i) => Number((await cluster.query(i, `SELECT count() AS c FROM \`${database}__shard\`.hits`))[0]!.c)));
    assert.ok(perShard[0]! > 100 && perShard[1]! > 100, `rows on both shards: ${perShard.join(' + ')}`);
    assert.equal(perShard[0]! + perShard[1]!, 1200);
    const q = await api.get('/v0/sql?q=' + encodeURIComponent('SELECT count() AS c, uniqExact(id) AS u FROM hits'));
    assert.equal(q.status, 200, q.text);
    assert.deepEqual(q.json.data, [{ c: 1200, u: 1200 }]);
    const pipe = await api.form('/v0/pipes', { name: 'pages', sql: 'SELECT page, count() AS c FROM hits GROUP BY page ORDER BY page' });
    assert.equal(pipe.status, 200, pipe.text);
    assert.equal((await api.post('/v0/pipes/pages/nodes/pages_0/endpoint')).status, 200);
    const ep = await api.get('/v0/pipes/pages.json');
    assert.equal(ep.status, 200, ep.text);
    const total = (ep.json.data as Array<{ c: number }>).reduce((s, r) => s + r.c, 0);
    assert.equal(total, 1200);
    assert.equal(ep.json.data.find((r: { page: string }) => r.page === '/csv').c, 200);
    const stats = await api.get('/v0/datasources/hits');
    assert.equal(stats.json.statistics.row_count, 1200, 'statistics over every shard');
  });

  it('truncates and drops on every shard', async () => {
    assert.equal((await api.post('/v0/datasources/hits/truncate')).status, 205);
    for (const i of [0, 1]) assert.equal(Number((await cluster.query(i, `SELECT count() AS c FROM \`${database}__shard\`.hits`))[0]!.c), 0);
    assert.equal((await api.delete('/v0/pipes/pages')).status, 204);
    assert.equal((await api.delete('/v0/datasources/hits')).status, 204);
    for (const i of [0, 1]) assert.deepEqual(await cluster.query(i, `SELECT name FROM system.tables WHERE name LIKE 'hits%'`), [], `node ${i}`);
  });

  it('engine_sharding_key places rows by key; replace swaps every shard; delete runs on every shard', async () => {
    const bad = await api.form('/v0/datasources', { name: 'keyed', schema: '`id` UInt64', engine_sharding_key: 'id; DROP TABLE x' });
    assert.equal(bad.status, 400, bad.text);
    const ds = await api.form('/v0/datasources', { name: 'keyed', schema: '`id` UInt64 `json:$.id`, `v` String `json:$.v`', engine_sorting_key: 'id', engine_sharding_key: 'id' });
    assert.equal(ds.status, 200, ds.text);
    assert.equal(ds.json.datasource.engine.engine_sharding_key, 'id');
    const rows = Array.from({ length: 100 }, (_, id) => JSON.stringify({ id, v: 'old' })).join('\n') + '\n';
    assert.equal((await api.post('/v0/events?name=keyed&wait=true', rows)).status, 200);
    const local = async (i: number, what: string): Promise<number> => Number((await cluster.query(i, `SELECT ${what} AS c FROM \`${database}__shard\`.keyed`))[0]!.c);
    // Two shards of weight 1: shard = id % 2.
    assert.deepEqual([await local(0, 'count()'), await local(1, 'count()')], [50, 50]);
    assert.deepEqual([await local(0, 'countIf(id % 2 = 1)'), await local(1, 'countIf(id % 2 = 0)')], [0, 0]);

    const csv = Array.from({ length: 10 }, (_, i) => `${1000 + i},new`).join('\n') + '\n';
    const rep = await api.post('/v0/datasources?name=keyed&mode=replace&format=csv', csv, { 'content-type': 'text/csv' });
    assert.equal(rep.status, 200, rep.text);
    const all = await api.get('/v0/sql?q=' + encodeURIComponent('SELECT count() AS c, min(id) AS lo, groupUniqArray(v) AS vs FROM keyed'));
    assert.deepEqual(all.json.data, [{ c: 10, lo: 1000, vs: ['new'] }]);
    assert.deepEqual([await local(0, 'count()'), await local(1, 'count()')], [5, 5], 'new rows on both shards, by key');
    for (const i of [0, 1]) {
      const tables = await cluster.query(i, `SELECT database, name, engine FROM system.tables WHERE name LIKE 'keyed%' ORDER BY database, name`);
      assert.deepEqual(tables.map((t) => `${t.name}:${t.engine}`), ['keyed:Distributed', 'keyed_quarantine:Distributed', 'keyed:MergeTree', 'keyed_quarantine:MergeTree'], `node ${i}: no staging or old tables left`);
    }

    const del = await api.form('/v0/datasources/keyed/delete', { delete_condition: 'id >= 1006' });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.rows_affected, 4);
    assert.deepEqual([await local(0, 'count()'), await local(1, 'count()')], [3, 3], 'deleted on both shards');
    for (const i of [0, 1]) {
      const pending = await cluster.query(i, `SELECT count() AS c FROM system.mutations WHERE database = '${database}__shard' AND table = 'keyed' AND is_done = 0`);
      assert.equal(Number(pending[0]!.c), 0, `node ${i}: mutation done`);
    }
    assert.equal(await api.rowCount('keyed'), 6);
    assert.equal((await api.delete('/v0/datasources/keyed')).status, 204);
  });
});
