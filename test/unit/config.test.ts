/**
 * Server configuration (src/server/config.ts): defaults, the JSON file, environment and
 * flags in that order of precedence, and validation errors that name the bad key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, loadConfig } from '../../src/server/config.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'colibri-config-'));
let n = 0;
function file(content: unknown): string {
  const f = path.join(dir, `c${n++}.json`);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

function load(content: unknown, env: NodeJS.ProcessEnv = {}, flags: Record<string, string> = {}) {
  return loadConfig({ flags: { config: file(content), ...flags }, env });
}

function refuses(content: unknown, message: RegExp, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(() => load(content, env), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, message);
    return true;
  });
}

test('no file: the documented defaults, data directory made absolute', () => {
  const c = loadConfig({ flags: {}, env: {} });
  const d = defaultConfig();
  assert.equal(c.port, 7181);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.dataDir, path.resolve('./.colibri'));
  assert.deepEqual(c.ingest, d.ingest);
  assert.equal(c.ingest.maxConcurrentInserts, 1);
  assert.deepEqual(c.tenants.map((t) => t.slug), ['local']);
});

test('file, then environment, then flags', () => {
  const f = file({ port: 8000, dataDir: 'data', ingest: { flushIntervalMs: 10, maxConcurrentInserts: 3 } });
  const fromFile = loadConfig({ flags: { config: f }, env: {} });
  assert.equal(fromFile.port, 8000);
  assert.equal(fromFile.dataDir, path.join(dir, 'data'), 'dataDir in the file is relative to the file');
  assert.equal(fromFile.ingest.flushIntervalMs, 10);
  assert.equal(fromFile.ingest.maxConcurrentInserts, 3);
  assert.equal(fromFile.ingest.maxBatchRows, defaultConfig().ingest.maxBatchRows, 'keys left out keep their defaults');
  const fromEnv = loadConfig({ flags: {}, env: { COLIBRI_CONFIG: f, COLIBRI_PORT: '8001', COLIBRI_DATA_DIR: '/tmp/x' } });
  assert.equal(fromEnv.port, 8001);
  assert.equal(fromEnv.dataDir, '/tmp/x');
  const fromFlags = loadConfig({ flags: { config: f, port: '8002', dataDir: '/tmp/y', host: '0.0.0.0' }, env: { COLIBRI_PORT: '8001' } });
  assert.equal(fromFlags.port, 8002);
  assert.equal(fromFlags.dataDir, '/tmp/y');
  assert.equal(fromFlags.host, '0.0.0.0');
});

test('errors name the bad key', () => {
  refuses('{ not json', /is not valid JSON/);
  refuses([], /\(root\): expected an object/);
  refuses({ prot: 1 }, /^config: prot: unknown key$/);
  refuses({ port: 70000 }, /port: expected a port number/);
  refuses({ ingest: { maxConcurrentInserts: 0 } }, /ingest\.maxConcurrentInserts: expected a positive integer/);
  refuses({ ingest: { flushIntervalMs: -1 } }, /ingest\.flushIntervalMs: expected a non-negative integer/);
  refuses({ ingest: { batchRows: 5 } }, /ingest\.batchRows: unknown key/);
  refuses({ limits: { maxExecutionTime: 'ten' } }, /limits\.maxExecutionTime/);
  refuses({ tenants: [] }, /tenants: expected a non-empty array/);
  refuses({ tenants: [{ slug: 'Acme' }] }, /tenants\[0\]\.slug: expected a name/);
  refuses({ tenants: [{ slug: 'a' }, { slug: 'a' }] }, /tenants\[1\]\.slug: duplicate tenant 'a'/);
  refuses({ tenants: [{ slug: 'a', host: { kind: 'remote', urls: ['ftp://x'] } }] }, /tenants\[0\]\.host\.urls\[0\]: expected an http\(s\) URL/);
  refuses({ tenants: [{ slug: 'a', host: { kind: 'remote', urls: ['http://u:p@x'] } }] }, /tenants\[0\]\.host\.urls\[0\]: put credentials in user\/password/);
  refuses({ tenants: [{ slug: 'a', host: { kind: 'remote', urls: ['http://x'], passwordEnv: 'NOPE_PW' } }] }, /tenants\[0\]\.host\.passwordEnv: environment variable NOPE_PW is not set/);
  refuses({ auth: { signingAlgorithm: 'RS256' } }, /auth\.signingAlgorithm/);
  refuses({ hosts: { heartbeatIntervalMs: 0 } }, /hosts\.heartbeatIntervalMs: expected a positive integer/);
  assert.throws(() => loadConfig({ flags: { config: path.join(dir, 'missing.json') }, env: {} }), /cannot read .*missing\.json: ENOENT/);
  assert.throws(() => loadConfig({ flags: { port: 'abc' }, env: {} }), /--port: expected a port number/);
  assert.throws(() => loadConfig({ flags: {}, env: { COLIBRI_PORT: 'x' } }), /COLIBRI_PORT: expected a port number/);
});

test('`colibri server` with a bad config file exits 2 and names the key', async () => {
  const { spawnSync } = await import('node:child_process');
  const { projectRoot } = await import('../../src/compiler/native.js');
  const main = path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [main, 'server', '--config', file({ ingest: { maxConcurrentInserts: 'two' } }), '--data-dir', path.join(dir, 'never')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /colibri: config: ingest\.maxConcurrentInserts: expected a positive integer/);
});
