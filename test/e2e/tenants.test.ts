/**
 * Tenants on physically separate hosts: four real clickhouse-server processes (alpha,
 * beta, and gamma's two replicas) plus one embedded host (delta), all tenants added
 * through the operator API. Isolation checked on every host directly; a host killed
 * under load; a replica killed; recovery by itself; the operator view and the CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Api, CLI, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { queryDirect, startClickHouseCluster, type ClickHouseCluster } from '../helpers/clickhouse-cluster.js';

const run = promisify(execFile);
const SCHEMA = '`tenant` String `json:$.tenant`, `n` UInt64 `json:$.n`';

interface Sample {
  status: number;
  error?: string;
  ms: number;
  at: number;
}

function remoteHost(ch: ClickHouseServer): Record<string, unknown> {
  return { kind: 'remote', urls: [ch.url], user: ch.user, password: ch.password, readUser: ch.readUser, readPassword: ch.readPassword };
}

describe('tenants on separate hosts', () => {
  let a: ClickHouseServer;
  let b: ClickHouseServer;
  let pair: ClickHouseCluster;
  let g1: ClickHouseServer;
  let g2: ClickHouseServer;
  let server: Colibri;
  let dataDir: string;
  let op: Api;
  const apis: Record<string, Api> = {};
  const databases: Record<string, string> = {};

  before(async () => {
    [a, b, pair] = await Promise.all([startClickHouseServer(), startClickHouseServer(), startClickHouseCluster(undefined, 2, 'gamma_pair')]);
    // gamma's two replicas: same users and passwords on both servers.
    const replica = (i: number): ClickHouseServer => ({
      url: pair.nodes[i]!.url, user: pair.user, password: pair.password, readUser: pair.readUser, readPassword: pair.readPassword,
      httpPort: pair.nodes[i]!.httpPort, tcpPort: pair.nodes[i]!.tcpPort, dataDir: '', stop: async () => undefined,
      kill9: () => pair.nodes[i]!.kill9(), restart: () => pair.nodes[i]!.restart(), signal: () => undefined,
    });
    g1 = replica(0);
    g2 = replica(1);
    dataDir = tempDir('tenants');
    server = await startColibri({ dataDir, config: { hosts: { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 500 } } });
    const opToken = readFileSync(path.join(dataDir, 'operator.token'), 'utf8').trim();
    op = new Api(server.url, opToken);
    const tenants = [
      { slug: 'alpha', name: 'Alpha', host: remoteHost(a), emailDomains: ['alpha.example'] },
      { slug: 'beta', name: 'Beta', host: remoteHost(b) },
      { slug: 'gamma', name: 'Gamma', host: { ...remoteHost(g1), urls: [g1.url, g2.url] } },
      { slug: 'delta', name: 'Delta', host: { kind: 'embedded' } },
    ];
    for (const t of tenants) {
      const r = await op.post('/v0/admin/tenants', JSON.stringify(t), { 'content-type': 'application/json' });
      assert.equal(r.status, 201, r.text);
      apis[t.slug] = new Api(server.url, r.json.tokens.default);
      databases[t.slug] = r.json.tenant.workspaces[0].database;
      assert.ok(!r.text.includes(a.password) && !r.text.includes(b.password) && !r.text.includes(g1.password), 'no credentials in responses');
    }
  });

  after(async () => {
    await server?.stop();
    await Promise.all([a?.stop(), b?.stop(), pair?.stop()]);
    if (dataDir !== undefined) removeDir(dataDir);
  });

  it('protects the operator API: operator token only, mode 0600, never a workspace token', async () => {
    assert.equal(statSync(path.join(dataDir, 'operator.token')).mode & 0o777, 0o600);
    assert.equal((await op.withToken(undefined).get('/v0/admin/tenants')).status, 401);
    assert.equal((await op.withToken(server.token).get('/v0/admin/tenants')).status, 401);
    assert.equal((await op.withToken(apis.alpha!.token).get('/v0/admin/tenants')).status, 401);
    assert.equal((await op.withToken(op.token + 'x').get('/v0/admin/tenants')).status, 401);
    assert.equal((await op.get('/v0/sql?q=SELECT%201')).status, 401, 'the operator token is not a workspace token');
    const bad = await op.post('/v0/admin/tenants', JSON.stringify({ slug: 'Bad Slug' }), { 'content-type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /tenant\.slug/);
    const dup = await op.post('/v0/admin/tenants', JSON.stringify({ slug: 'alpha' }), { 'content-type': 'application/json' });
    assert.equal(dup.status, 409);
  });

  it("keeps each tenant's data on its own host only (checked on every host directly)", async () => {
    for (const [slug, api] of Object.entries(apis)) {
      const ds = await api.form('/v0/datasources', { name: 'events', schema: SCHEMA });
      assert.equal(ds.status, 200, `${slug}: ${ds.text}`);
      const rows = Array.from({ length: 20 }, (_, n) => JSON.stringify({ tenant: slug, n })).join('\n') + '\n';
      const ev = await api.post('/v0/events?name=events&wait=true', rows);
      assert.equal(ev.status, 200, `${slug}: ${ev.text}`);
    }
    const hosts: Array<[string, ClickHouseServer, string | undefined]> = [['alpha', a, 'alpha'], ['beta', b, 'beta'], ['gamma-1', g1, 'gamma'], ['gamma-2', g2, undefined]];
    for (const [label, ch, owner] of hosts) {
      const dbs = (await queryDirect(ch.url, ch.user, ch.password, "SELECT name FROM system.databases WHERE name LIKE 'ws_%'")).map((r) => r.name);
      // Each host holds the databases of its own tenant only (gamma's second replica: its databases, no data yet).
      for (const [slug, db] of Object.entries(databases)) {
        const expected = slug === owner || (label === 'gamma-2' && slug === 'gamma');
        assert.equal(dbs.includes(db), expected, `${label}: database of ${slug}`);
      }
      if (owner !== undefined) {
        const rows = await queryDirect(ch.url, ch.user, ch.password, `SELECT tenant, toUInt32(count()) AS c FROM ${databases[owner]}.events GROUP BY tenant`);
        assert.deepEqual(rows, [{ tenant: owner, c: 20 }], label);
      }
    }
    assert.ok(existsSync(path.join(dataDir, 'hosts', 'delta')), "delta's embedded engine has its own data directory");
    const d = await apis.delta!.get('/v0/sql?q=' + encodeURIComponent('SELECT tenant, count() AS c FROM events GROUP BY tenant'));
    assert.deepEqual(d.json.data, [{ tenant: 'delta', c: 20 }]);
  });

  it("lets no token, parameter or SQL of one tenant reach another's host", async () => {
    const alpha = apis.alpha!;
    for (const [slug, db] of Object.entries(databases)) {
      if (slug === 'alpha') continue;
      const r = await alpha.get('/v0/sql?q=' + encodeURIComponent(`SELECT count() AS c FROM ${db}.events`));
      assert.ok(r.status === 403 || r.status === 400, `${slug}: ${r.status} ${r.text}`);
      const viaRemote = await alpha.get('/v0/sql?q=' + encodeURIComponent(`SELECT count() AS c FROM remote('127.0.0.1:${b.tcpPort}', ${db}, events)`));
      assert.equal(viaRemote.status, 400, viaRemote.text);
    }
    // Parameters and headers that might name a host, database or tenant are not honoured.
    const tricks = await alpha.request('GET', `/v0/sql?q=${encodeURIComponent('SELECT tenant, count() AS c FROM events GROUP BY tenant')}&tenant=beta&host=${encodeURIComponent(b.url)}&database=${databases.beta!}&workspace=beta`, undefined, {
      'x-colibri-tenant': 'beta',
      'x-clickhouse-database': databases.beta!,
    });
    assert.equal(tricks.status, 200, tricks.text);
    assert.deepEqual(tricks.json.data, [{ tenant: 'alpha', c: 20 }]);
    // A token in the query string of another tenant's request: the header token decides, both resolve to their own host.
    const both = await alpha.get(`/v0/sql?q=${encodeURIComponent('SELECT tenant FROM events LIMIT 1')}&token=${encodeURIComponent(apis.beta!.token!)}`);
    assert.deepEqual(both.json.data, [{ tenant: 'alpha' }]);
  });

  it('kills one host under load: other tenants see zero errors, its tenant gets fast 503s, traffic recovers by itself; a replica dies and gamma keeps serving', async () => {
    const samples: Record<string, Sample[]> = { alpha: [], beta: [], gamma: [], delta: [] };
    const queries: Record<string, string> = {
      alpha: 'SELECT count() AS c FROM events',
      beta: 'SELECT count() AS c FROM events',
      gamma: 'SELECT count() AS c FROM numbers(1000)',
      delta: 'SELECT count() AS c FROM events',
    };
    let running = true;
    const loops = Object.keys(samples).flatMap((slug) =>
      [0, 1].map(async () => {
        while (running) {
          const t0 = Date.now();
          const r = await apis[slug]!.get('/v0/sql?q=' + encodeURIComponent(queries[slug]!));
          samples[slug]!.push({ status: r.status, ms: Date.now() - t0, at: t0, ...(r.status !== 200 ? { error: r.text.slice(0, 300) } : {}) });
          if (r.status !== 200) await new Promise((res) => setTimeout(res, 20));
        }
      }),
    );
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    try {
      await sleep(800);
      const killedAt = Date.now();
      a.kill9();
      await sleep(2000);
      const view = await op.get('/v0/admin/tenants');
      const alphaView = view.json.tenants.find((t: { slug: string }) => t.slug === 'alpha');
      assert.equal(alphaView.status.health, 'down', JSON.stringify(alphaView.status));
      assert.ok(alphaView.status.last_minute.errors > 0);
      assert.ok(!JSON.stringify(view.json).includes(a.password), 'no credentials in the operator view');
      const restartAt = Date.now();
      await a.restart();
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && !samples.alpha!.some((s) => s.at > restartAt && s.status === 200)) await sleep(100);
      assert.ok(samples.alpha!.some((s) => s.at > restartAt && s.status === 200), 'alpha recovered by itself after its host came back');
      // One of gamma's replicas dies: gamma keeps serving from the other.
      const replicaKilledAt = Date.now();
      g1.kill9();
      await sleep(1500);
      const after = samples.gamma!.filter((s) => s.at > replicaKilledAt);
      assert.ok(after.length > 5, 'gamma kept receiving traffic');
      running = false;
      await Promise.all(loops);
      for (const slug of ['beta', 'delta', 'gamma']) {
        const errors = samples[slug]!.filter((s) => s.status !== 200);
        assert.deepEqual(errors, [], `${slug}: zero errors\n${server.output().slice(-3000)}`);
        assert.ok(samples[slug]!.length > 10, `${slug} was under load`);
      }
      const failed = samples.alpha!.filter((s) => s.status !== 200);
      assert.ok(failed.length > 0);
      for (const s of failed) {
        assert.equal(s.status, 503);
        assert.ok(s.at >= killedAt - 50, 'no failure before the kill');
        assert.ok(s.ms < 1000, `503 within 1 s (took ${s.ms} ms)`);
      }
      const r = await apis.alpha!.get('/v0/sql?q=' + encodeURIComponent('SELECT count() AS c FROM events'));
      assert.deepEqual(r.json.data, [{ c: 20 }], 'data survived');
      const down = await apis.gamma!.get('/v0/sql?q=SELECT%201%20AS%20x');
      assert.equal(down.status, 200);
    } finally {
      running = false;
      await Promise.all(loops);
    }
  });

  it('lists, updates and removes tenants (CLI and API); removal needs confirmation and deprovisions', async () => {
    const env = { ...process.env, COLIBRI_OPERATOR_TOKEN: '' };
    const add = await run(process.execPath, [CLI, 'tenant', 'add', 'tmp', '--server', server.url, '--data-dir', dataDir, '--name', 'Temp', '--host', b.url, '--user', b.user, '--password-env', 'TMP_PW', '--workspace', 'one', '--workspace', 'two', '--limits', '{"maxConcurrentQueries":3}'], { env: { ...env, TMP_PW: b.password } });
    const added = JSON.parse(add.stdout);
    assert.equal(added.tenant.slug, 'tmp');
    assert.equal(added.tenant.limits.maxConcurrentQueries, 3);
    assert.ok(!add.stdout.includes(b.password));
    const dbs = added.tenant.workspaces.map((w: { database: string }) => w.database);
    const onB = async () => (await queryDirect(b.url, b.user, b.password, 'SELECT name FROM system.databases')).map((r) => r.name);
    for (const db of dbs) assert.ok((await onB()).includes(db), 'provisioned on its host');
    const list = await run(process.execPath, [CLI, 'tenant', 'list', '--server', server.url, '--data-dir', dataDir], { env });
    for (const slug of ['local', 'alpha', 'beta', 'gamma', 'delta', 'tmp']) assert.match(list.stdout, new RegExp(`^${slug}\\s`, 'm'));
    const upd = await run(process.execPath, [CLI, 'tenant', 'update', 'tmp', '--server', server.url, '--data-dir', dataDir, '--email-domain', 'tmp.example', '--limits', '{"maxConcurrentQueries":5}'], { env });
    assert.equal(JSON.parse(upd.stdout).tenant.limits.maxConcurrentQueries, 5);
    const tmpApi = new Api(server.url, added.tokens.one);
    assert.equal((await tmpApi.get('/v0/sql?q=SELECT%201%20AS%20x')).status, 200);
    await assert.rejects(run(process.execPath, [CLI, 'tenant', 'remove', 'tmp', '--server', server.url, '--data-dir', dataDir], { env }), /--confirm/);
    const noConfirm = await op.delete('/v0/admin/tenants/tmp');
    assert.equal(noConfirm.status, 400);
    const rm = await run(process.execPath, [CLI, 'tenant', 'remove', 'tmp', '--confirm', 'tmp', '--server', server.url, '--data-dir', dataDir], { env });
    assert.match(rm.stdout, /removed/);
    for (const db of dbs) assert.ok(!(await onB()).includes(db), 'deprovisioned');
    assert.ok((await onB()).includes(databases.beta!), "beta's data untouched");
    assert.equal((await tmpApi.get('/v0/sql?q=SELECT%201%20AS%20x')).status, 401, 'its tokens stopped working');
    assert.equal((await op.get('/v0/admin/tenants/tmp')).status, 404);
    const cfg = await op.delete('/v0/admin/tenants/local?confirm=local');
    assert.equal(cfg.status, 409, 'config-file tenants are managed in the file');
  });
});
