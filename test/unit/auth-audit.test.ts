/**
 * Every token change is recorded on the audit queue, without secrets: the real
 * server in process (startServer), driven over HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/start.js';
import { defaultConfig } from '../../src/server/config.js';
import { audit, type AuditEvent } from '../../src/ops/audit.js';

describe('audit of token changes', () => {
  let server: RunningServer;
  let dir: string;
  const call = async (method: string, p: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> => {
    const res = await fetch(server.url + p, { method, body, headers: { authorization: `Bearer ${server.adminToken}`, ...headers } });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'colibri-audit-'));
    server = await startServer({ ...defaultConfig(), port: 0, dataDir: dir });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records create, update, refresh, delete and JWT issue with actor and details', async () => {
    audit.drain();
    const created = await call('POST', '/v0/tokens?name=audited&scope=DATASOURCES:READ:events');
    assert.equal(created.status, 200);
    assert.equal((await call('PUT', '/v0/tokens/audited?scope=DATASOURCES:APPEND:events')).status, 200);
    const refreshed = await call('POST', '/v0/tokens/audited/refresh');
    assert.equal(refreshed.status, 200);
    assert.equal((await call('DELETE', '/v0/tokens/audited')).status, 204);
    const jwt = await call('POST', `/v0/tokens?expiration_time=${Math.floor(Date.now() / 1000) + 60}`, JSON.stringify({ name: 'front', scopes: [{ type: 'DATASOURCES:READ', resource: 'events' }] }), { 'content-type': 'application/json' });
    assert.equal(jwt.status, 200);
    const events: AuditEvent[] = audit.drain().filter((e) => e.kind.startsWith('token.') || e.kind === 'jwt.issued');
    assert.deepEqual(events.map((e) => e.kind), ['token.created', 'token.updated', 'token.refreshed', 'token.deleted', 'jwt.issued']);
    for (const e of events) {
      assert.equal(e.tenant, 'local');
      assert.equal(e.actor.name, 'admin token');
      assert.equal(e.actor.kind, 'token');
      assert.ok(e.requestId);
    }
    assert.equal(events[0]!.target.id, created.json.id);
    assert.deepEqual(events[1]!.details, { scopes: ['DATASOURCES:APPEND:events'], previous_scopes: ['DATASOURCES:READ:events'] });
    assert.deepEqual(events[4]!.details?.scopes, ['DATASOURCES:READ:events']);
    const text = JSON.stringify(events);
    for (const secret of [created.json.token, refreshed.json.token, jwt.json.token, server.adminToken]) assert.ok(!text.includes(secret), 'no secret in audit events');
  });
});
