/**
 * A hung (not dead) host: a clickhouse-server stopped with SIGSTOP still accepts TCP
 * connections but never answers. Reads in flight on it, and reads queued behind them,
 * must end with 503 soon after the heartbeats open the host's breaker, instead of
 * waiting for their time limit; new reads get 503 at once; SIGCONT heals it by itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Api, removeDir, startColibri, tempDir, type Colibri } from '../helpers/colibri.js';
import { startClickHouseServer, type ClickHouseServer } from '../helpers/clickhouse-server.js';

interface Outcome {
  status: number;
  ms: number;
  retryAfter: string | null;
}

describe('a hung host (SIGSTOP)', () => {
  let ch: ClickHouseServer;
  let server: Colibri;
  let dataDir: string;
  let api: Api;

  before(async () => {
    ch = await startClickHouseServer();
    dataDir = tempDir('hung');
    server = await startColibri({ dataDir, config: { hosts: { heartbeatIntervalMs: 300, heartbeatTimeoutMs: 300, failureThreshold: 2 } } });
    const op = new Api(server.url, readFileSync(path.join(dataDir, 'operator.token'), 'utf8').trim());
    const r = await op.post('/v0/admin/tenants', JSON.stringify({
      slug: 'frozen',
      host: { kind: 'remote', urls: [ch.url], user: ch.user, password: ch.password, readUser: ch.readUser, readPassword: ch.readPassword },
      // Long time limit and a deep, patient queue: only the breaker can end these reads early.
      limits: { maxExecutionTime: 60, maxConcurrentQueries: 4, maxQueuedQueries: 100, maxQueueWaitMs: 60000 },
    }), { 'content-type': 'application/json' });
    assert.equal(r.status, 201, r.text);
    api = new Api(server.url, r.json.tokens.default);
    assert.equal((await api.form('/v0/datasources', { name: 'events', schema: '`n` UInt64 `json:$.n`' })).status, 200);
    assert.equal((await api.post('/v0/events?name=events&wait=true', '{"n":1}\n{"n":2}\n')).status, 200);
  });

  after(async () => {
    ch?.signal('SIGCONT');
    await server?.stop();
    await ch?.stop();
    if (dataDir !== undefined) removeDir(dataDir);
  });

  async function read(): Promise<Outcome> {
    const t0 = Date.now();
    try {
      const res = await fetch(`${server.url}/v0/sql?q=${encodeURIComponent('SELECT sum(n) AS s FROM events')}`, {
        headers: { authorization: `Bearer ${api.token}` },
        signal: AbortSignal.timeout(20_000),
      });
      await res.text();
      return { status: res.status, ms: Date.now() - t0, retryAfter: res.headers.get('retry-after') };
    } catch {
      return { status: 0, ms: Date.now() - t0, retryAfter: null };
    }
  }

  it('ends in-flight and queued reads with 503 when the breaker opens, fails new ones fast, recovers on SIGCONT', async () => {
    assert.equal((await read()).status, 200);
    ch.signal('SIGSTOP');
    const t0 = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => read()));
    const statuses = outcomes.map((o) => o.status);
    assert.deepEqual(statuses, Array(12).fill(503), `statuses: ${statuses.join(',')} after ${outcomes.map((o) => o.ms).join(',')} ms`);
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    assert.ok(slowest < 5000, `in-flight and queued reads ended in ${slowest} ms (heartbeats: 300 ms, 2 failures)`);
    assert.ok(outcomes.every((o) => o.retryAfter !== null), 'Retry-After on every 503');
    assert.ok(Date.now() - t0 < 6000);
    // While it stays hung: new reads fail at once.
    const fast = await read();
    assert.equal(fast.status, 503);
    assert.ok(fast.ms < 1000, `fast 503 in ${fast.ms} ms`);

    ch.signal('SIGCONT');
    const deadline = Date.now() + 15_000;
    let last: Outcome;
    do {
      await new Promise((r) => setTimeout(r, 200));
      last = await read();
    } while (last.status !== 200 && Date.now() < deadline);
    assert.equal(last.status, 200, 'the host serves again by itself after SIGCONT');
  });
});
